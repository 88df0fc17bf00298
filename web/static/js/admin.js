// The admin page (being built).
import { startPage } from "./common.js";
startPage("admin", () => {});
