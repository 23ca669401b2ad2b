// visitor.js: the pre-chat form's checks, when CSAT is due, what identify() accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanIdentity, csatDue, prechatProblem } from "../src/visitor.js";

const FIELDS = [
  { name: "name", required: true },
  { name: "email", required: true },
  { name: "phone", required: false },
  { name: "consent", required: true },
];

test("required fields, formats and consent, in the form's order", () => {
  assert.deepEqual(prechatProblem(FIELDS, {}), ["name", "required"]);
  assert.deepEqual(prechatProblem(FIELDS, { name: "  " }), ["name", "required"]);
  assert.deepEqual(prechatProblem(FIELDS, { name: "Ann", email: "ann" }), ["email", "format"]);
  assert.deepEqual(prechatProblem(FIELDS, { name: "Ann", email: "a@b.co", phone: "call me" }), ["phone", "format"]);
  assert.deepEqual(prechatProblem(FIELDS, { name: "Ann", email: "a@b.co", phone: "+7 (1) 2-3" }), ["phone", "format"]);
  assert.deepEqual(prechatProblem(FIELDS, { name: "Ann", email: "a@b.co", consent: false }), ["consent", "required"]);
  assert.equal(prechatProblem(FIELDS, { name: "Ann", email: "a@b.co", phone: "+7 (900) 111-22-33", consent: true }), null);
  assert.equal(prechatProblem(FIELDS, { name: "Ann", email: "a@b.co", consent: true }), null);
  assert.equal(prechatProblem([{ name: "email", required: false }], {}), null);
});

test("CSAT is due for the latest resolution only, and not once rated", () => {
  const resolved = { id: 5, kind: "event", body: "status:resolved" };
  const reopened = { id: 7, kind: "event", body: "status:open" };
  const again = { id: 9, kind: "event", body: "status:resolved" };
  const text = { id: 6, kind: "message", body: "status:resolved" };
  assert.equal(csatDue([], 0), 0);
  assert.equal(csatDue([text], 0), 0);
  assert.equal(csatDue([resolved], 0), 5);
  assert.equal(csatDue([resolved], 5), 0);
  assert.equal(csatDue([resolved, reopened], 0), 0);
  assert.equal(csatDue([again, resolved, reopened], 5), 9);
  assert.equal(csatDue([{ id: 3, kind: "event", body: "assigned" }, resolved], 0), 5);
});

test("identify() takes an identifier and a hash, and only the known extras", () => {
  assert.equal(cleanIdentity(null), null);
  assert.equal(cleanIdentity({ identifier: "42" }), null);
  assert.equal(cleanIdentity({ identifier: 42, identity_hash: "ab" }), null);
  assert.deepEqual(cleanIdentity({ identifier: "42", identity_hash: "ab", name: "Ann", admin: true, email: "" }), {
    identifier: "42",
    identity_hash: "ab",
    name: "Ann",
  });
});
