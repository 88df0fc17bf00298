// The family page (being built).
import { startPage } from "./common.js";
startPage("family", () => {});
