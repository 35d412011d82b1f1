// Resolves the k6 built-in modules a generated script imports to the stand-ins beside this file.
const MODULES = new Set(["k6", "k6/http", "k6/crypto", "k6/encoding", "k6/execution"]);

export async function resolve(specifier, context, next) {
  if (MODULES.has(specifier)) {
    const name = specifier === "k6" ? "k6" : specifier.slice(3);
    return { url: new URL(`./modules/${name}.mjs`, import.meta.url).href, shortCircuit: true };
  }
  if (specifier.startsWith("k6/")) throw new Error(`the k6 stand-in has no module ${specifier}`);
  return next(specifier, context);
}
