// pow.js: the ALTCHA v1 solver, against Node's WebCrypto (passed in: Node 18 has no global crypto).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { solveChallenge } from "../src/pow.js";

function challengeFor(number, maxnumber) {
  const salt = "0123abcd?expires=1";
  const hash = createHash("sha256").update(salt + number).digest("hex");
  return { algorithm: "SHA-256", challenge: hash, salt, signature: "sig", maxnumber };
}

test("finds the number and encodes the solution ALTCHA expects", async () => {
  const challenge = challengeFor(130, 1000); // past the first batch of 64
  const solution = JSON.parse(atob(await solveChallenge(challenge, webcrypto.subtle)));
  assert.deepEqual(solution, {
    algorithm: "SHA-256",
    challenge: challenge.challenge,
    number: 130,
    salt: challenge.salt,
    signature: "sig",
  });
});

test("gives up when no number up to maxnumber fits", async () => {
  await assert.rejects(solveChallenge(challengeFor(130, 100), webcrypto.subtle), /not solved/);
});
