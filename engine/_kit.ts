// What this package's own adapters share besides the public adapter kit (./mod.ts): helpers
// an outside adapter should not build on. Imported only by adapters/.

export { checkCallback } from "./check_callback.ts";
export { announceConnection } from "./adapter_options.ts";
export { NOT_AN_UPGRADE } from "./handshake.ts";
export { showValue } from "./show_value.ts";
export { type AdapterSetup, checkDeflate, requestSetUp, setUp, withDrain } from "./_setup.ts";
export {
  type AcceptedUpgrade,
  type ConnectionSetup,
  engineInit,
  performUpgrade,
  refuseUpgrade,
} from "./_accept.ts";
export { upgradeHeaders, upgradeWebRequest, webUpgrades } from "./_web_upgrade.ts";
export { messageTooBig, protocolError } from "./_peer_errors.ts";
