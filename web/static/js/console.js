// The console page (being built).
import { startPage } from "./common.js";
startPage("console", () => {});
