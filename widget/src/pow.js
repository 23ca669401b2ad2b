/**
 * The ALTCHA v1 proof of work (the 428 answer's `challenge`): find the number n ≤ maxnumber
 * whose digest of salt + n, in hex, is `challenge`, hashing 64 candidates at a time with
 * WebCrypto. No DOM: `subtle` can be injected (Node has one too).
 */

function hex(buffer) {
  return Array.prototype.map
    .call(new Uint8Array(buffer), (b) => (b < 16 ? "0" : "") + b.toString(16))
    .join("");
}

/**
 * Resolves the solution to send back as `challenge_solution` (base64 JSON of algorithm,
 * challenge, number, salt, signature); rejects when no number up to maxnumber fits.
 */
export function solveChallenge(challenge, subtle = crypto.subtle) {
  const encoder = new TextEncoder();
  const algorithm = challenge.algorithm || "SHA-256";
  let n = 0;
  function batch() {
    const jobs = [];
    for (let k = 0; k < 64 && n + k <= challenge.maxnumber; k++) {
      jobs.push(subtle.digest(algorithm, encoder.encode(challenge.salt + (n + k))));
    }
    if (!jobs.length) return Promise.reject(new Error("challenge not solved"));
    return Promise.all(jobs).then((hashes) => {
      for (let j = 0; j < hashes.length; j++) {
        if (hex(hashes[j]) === challenge.challenge) return n + j;
      }
      n += hashes.length;
      return batch();
    });
  }
  return batch().then((number) =>
    btoa(
      JSON.stringify({
        algorithm,
        challenge: challenge.challenge,
        number,
        salt: challenge.salt,
        signature: challenge.signature,
      })
    )
  );
}
