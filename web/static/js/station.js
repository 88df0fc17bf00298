// The station page (being built).
import { startPage } from "./common.js";
startPage("station", () => {});
