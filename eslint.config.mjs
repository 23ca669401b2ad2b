// ESLint 9 flat config (.mjs because npm writes "type": "commonjs").
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "node_modules/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used" }],
      eqeqeq: ["error", "always"],
      "no-implicit-globals": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
    },
  },
  {
    // The embeddable widget runs on customers' sites, in browsers we do not choose: ES2019.
    files: ["static/messenger/**/*.js"],
    languageOptions: { ecmaVersion: 2019 },
    rules: { "no-var": "off", strict: ["error", "function"] },
  },
];
