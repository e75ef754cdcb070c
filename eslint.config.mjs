// eslint for the widgets' JavaScript (emolib/static/*.js, anywidget ES modules run in the browser):
// `make lint-js`, and tests/test_widgets.py in the fast tier when node_modules is installed.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["emolib/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used" }],
      eqeqeq: "error",
      "prefer-const": "error",
      "no-var": "error",
    },
  },
];
