// ESLint 9 flat config (.mjs because npm writes "type": "commonjs").
import js from "@eslint/js";
import globals from "globals";

const RULES = {
  "no-unused-vars": ["error", { args: "after-used" }],
  eqeqeq: ["error", "always"],
  "no-eval": "error",
  "no-implied-eval": "error",
};

export default [
  {
    ignores: [
      "static/vendor/**",
      // built from widget/src by `make widget` (widget/build.mjs), never committed
      "static/messenger/widget.js",
      "static/messenger/widget-app.js",
      "node_modules/**",
      ".venv/**",
    ],
  },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: { ...RULES, "no-implicit-globals": "error" },
  },
  {
    // The embeddable widget's sources: ES modules bundled by esbuild for the browsers of
    // customers' sites, which we do not choose: ES2019 syntax only.
    files: ["widget/src/**/*.js"],
    languageOptions: {
      ecmaVersion: 2019,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: { ...RULES, "no-var": "error", "prefer-const": "error" },
  },
  {
    // The build script and the `node --test` unit tests run in Node.
    files: ["widget/*.mjs", "widget/test/**/*.mjs"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node },
    },
    rules: RULES,
  },
];
