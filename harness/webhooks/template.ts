/** Values a template variable can take. */
export type TemplateValue = string | number | boolean | null;

const WHOLE = /^\{\{([a-z_][a-z0-9_]*)\}\}$/;
const INLINE = /\{\{([a-z_][a-z0-9_]*)\}\}/g;

/** The variable names a template uses, in first-use order. */
export function templateVariables(template: unknown): string[] {
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === "string")
      for (const m of value.matchAll(INLINE)) names.add(m[1] as string);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === "object") Object.values(value).forEach(walk);
  };
  walk(template);
  return [...names];
}

/**
 * Fill a JSON template: a string that is exactly `{{name}}` becomes the typed value (numbers
 * stay numbers); `{{name}}` inside other text is interpolated. A variable without a value is
 * an error, so a payload never goes out half-filled.
 */
export function fillTemplate(
  template: unknown,
  values: Record<string, TemplateValue>,
  where: string,
): unknown {
  const lookup = (name: string): TemplateValue => {
    if (!(name in values)) throw new Error(`${where}: no value for template variable {{${name}}}`);
    return values[name] as TemplateValue;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") {
      const whole = WHOLE.exec(value);
      if (whole) return lookup(whole[1] as string);
      return value.replace(INLINE, (_, name: string) => String(lookup(name)));
    }
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    }
    return value;
  };
  return walk(template);
}
