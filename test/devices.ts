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
  })().then((devices) => {
    // Suites stamped out per device say once why they run on the CPU only.
    if (!devices.includes("webgpu")) console.log(`webgpu tests skipped: ${reason}`);
    return devices;
  });
  return probed;
}

/** Why webgpu is missing from testDevices(), or false when it is there: for `describe(…, { skip })`. */
export async function webgpuSkipReason(): Promise<string | false> {
  const devices = await testDevices();
  if (devices.includes("webgpu")) return false;
  return `webgpu tests skipped: ${reason}`;
}

/** A tensor's values as a plain array, on any device. */
export async function values(t: fl.Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}

/**
 * Tests a device does not run, by device and test name, each with its
 * reason: reviewable data rather than scattered skips. Suites look names up
 * with knownGap(); an entry that stops failing should be deleted.
 */
export const KNOWN_GAPS: Record<string, Record<string, string>> = {
  cpu: {},
  webgpu: {
    "gradcheck/where with broadcasting, both branches differentiable":
      "the case builds its condition on the CPU inside the function; a CPU mask with device operands is refused (as in PyTorch)",
    "gradcheck/maskedFill with a broadcast mask":
      "the case builds its mask on the CPU inside the function; a CPU mask with a device input is refused (as in PyTorch)",
    "gradcheck/matmul with only the second operand differentiable":
      "the case builds its first operand on the CPU inside the function",
    "gradcheck/index with a bool mask":
      "boolean-mask indexing has a value-dependent output shape, which needs a synchronous read (use await x.toAsync('cpu') first)",
    "gradcheck/float64 → float32 → float64": "casts to float64, which WGSL lacks",
    "gradcheck/to('float32').to('float64') via to()": "casts to float64, which WGSL lacks",
  },
};

/** `{ skip: reason }` for a test a device is known not to pass, else `{}`. */
export function knownGap(device: string, name: string): { skip?: string } {
  const reason = KNOWN_GAPS[device]?.[name];
  return reason ? { skip: `known ${device} gap: ${reason}` } : {};
}

/**
 * A CPU tensor made ready for `device`: moved there, and, when it was a
 * gradient leaf, made a leaf on the device (a leaf on the CPU could not
 * receive a gradient read back from the device synchronously).
 */
export function onDevice(t: fl.Tensor, device: string): fl.Tensor {
  if (device === "cpu") return t;
  const d = t.detach().to(device);
  return t.requiresGrad ? d.requiresGrad_() : d;
}

/** A tensor's CPU copy, from any device. */
export function toCpu(t: fl.Tensor): Promise<fl.Tensor> {
  return t.toAsync("cpu");
}
