// k6/encoding: base64 to an ArrayBuffer (or a string with format "s"), and back.
export function b64decode(input, encoding = "std", format) {
  const bytes = Buffer.from(
    input,
    encoding === "std" || encoding === "rawstd" ? "base64" : "base64url",
  );
  if (format === "s") return bytes.toString("utf8");
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
}

export function b64encode(input, encoding = "std") {
  const bytes = typeof input === "string" ? Buffer.from(input) : Buffer.from(input);
  return bytes.toString(encoding === "std" || encoding === "rawstd" ? "base64" : "base64url");
}

export default { b64decode, b64encode };
