// The sender page's entry point.
import { main } from "./ui.js";

main();
