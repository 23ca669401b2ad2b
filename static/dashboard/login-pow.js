/*
 * The sign-in page's proof-of-work (ALTCHA v1, like widget/src/pow.js): when the form carries
 * data-challenge, find n <= maxnumber with hex(SHA-256(salt + n)) == challenge, put the
 * solution in the hidden "altcha" field, and submit once it is ready. No inline script.
 */
(function () {
  "use strict";
  var form = document.querySelector("form[data-challenge]");
  if (!form || !window.crypto || !crypto.subtle) return;
  var challenge = JSON.parse(form.getAttribute("data-challenge"));
  var field = form.querySelector('input[name="altcha"]');
  var encoder = new TextEncoder();
  var algorithm = challenge.algorithm || "SHA-256";

  function hex(buffer) {
    return Array.prototype.map
      .call(new Uint8Array(buffer), function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      })
      .join("");
  }

  function solve(n) {
    var jobs = [];
    for (var k = 0; k < 64 && n + k <= challenge.maxnumber; k++) {
      jobs.push(crypto.subtle.digest(algorithm, encoder.encode(challenge.salt + (n + k))));
    }
    if (!jobs.length) return Promise.reject(new Error("challenge not solved"));
    return Promise.all(jobs).then(function (hashes) {
      for (var j = 0; j < hashes.length; j++) {
        if (hex(hashes[j]) === challenge.challenge) return n + j;
      }
      return solve(n + hashes.length);
    });
  }

  var solved = solve(0).then(function (number) {
    field.value = btoa(
      JSON.stringify({
        algorithm: algorithm,
        challenge: challenge.challenge,
        number: number,
        salt: challenge.salt,
        signature: challenge.signature,
      })
    );
  });

  form.addEventListener("submit", function (event) {
    if (field.value) return;
    event.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    solved.then(function () {
      form.submit();
    });
  });
})();
