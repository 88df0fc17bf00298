// The call panel of the incident screen (voice to the home unit); the WebRTC work fills this in.
import { el } from "./common.js";

/** Draw the call controls for an incident into container. */
export function mountCallPanel(container, { incidentId }) {
  container.replaceChildren(el("p", { class: "muted", dataset: { incident: incidentId } }, "—"));
}
