// The devices this process can run tests on: "cpu" always, "webgpu" when a
// WebGPU adapter answers (Dawn via the `webgpu` package in Node). Tests are
// written once and stamped out per device:
//
//   for (const device of await testDevices()) describe(device, () => { … });
//
// A test file that needs webgpu and finds none prints why and skips.
import * as fl from "../src/index.js";

let probed: Promise<string[]> | null = null;
let reason = "";

/** "cpu", plus "webgpu" when an adapter is found (set FLINT_NO_WEBGPU=1 to leave it out). */
export function testDevices(): Promise<string[]> {
  probed ??= (async () => {
    if (process.env.FLINT_NO_WEBGPU) {
      reason = "FLINT_NO_WEBGPU is set";
      return ["cpu"];
    }
    try {
      if (!(await fl.webgpu.isAvailable())) {
        reason =
          "no WebGPU adapter (install the `webgpu` package and a Vulkan driver such as Mesa's lavapipe)";
        return ["cpu"];
      }
      await fl.webgpu.init();
      return ["cpu", "webgpu"];
    } catch (e) {
      reason = `webgpu failed to start: ${(e as Error).message}`;
      return ["cpu"];
    }
  })();
  return probed;
}

/** Why webgpu is missing from testDevices(), or false when it is there: for `describe(…, { skip })`. */
export async function webgpuSkipReason(): Promise<string | false> {
  const devices = await testDevices();
  if (devices.includes("webgpu")) return false;
  const msg = `webgpu tests skipped: ${reason}`;
  console.log(msg);
  return msg;
}

/** A tensor's values as a plain array, on any device. */
export async function values(t: fl.Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}
