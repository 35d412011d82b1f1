// k6/execution: the numbers a script reads to tell its iterations apart.
import { state } from "./state.mjs";

export default {
  scenario: {
    name: "webhooks",
    get iterationInTest() {
      return state.iteration;
    },
    get iterationInInstance() {
      return state.iteration;
    },
  },
  vu: { idInTest: 1, idInInstance: 1 },
  test: {
    abort(reason) {
      throw new Error(`test aborted: ${reason}`);
    },
  },
};
