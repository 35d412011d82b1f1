// k6/crypto's hashes and HMACs on node:crypto; k6 takes string or ArrayBuffer keys.
import { createHmac, createHash as nodeCreateHash } from "node:crypto";

const key = (secret) => (typeof secret === "string" ? secret : Buffer.from(secret));

function encode(digest, encoding) {
  if (encoding === "hex") return digest.toString("hex");
  if (encoding === "base64") return digest.toString("base64");
  if (encoding === "base64url") return digest.toString("base64url");
  if (encoding === "binary")
    return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.length);
  throw new Error(`k6 stand-in: unknown output encoding ${encoding}`);
}

export function hmac(algorithm, secret, data, encoding) {
  return encode(createHmac(algorithm, key(secret)).update(key(data)).digest(), encoding);
}

export const sha1 = (data, encoding) =>
  encode(nodeCreateHash("sha1").update(key(data)).digest(), encoding);
export const sha256 = (data, encoding) =>
  encode(nodeCreateHash("sha256").update(key(data)).digest(), encoding);

export function createHash(algorithm) {
  const hash = nodeCreateHash(algorithm);
  return {
    update(input) {
      hash.update(key(input));
    },
    digest(encoding) {
      return encode(hash.digest(), encoding);
    },
  };
}

export default { hmac, sha1, sha256, createHash };
