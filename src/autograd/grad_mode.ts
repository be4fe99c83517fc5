/** Whether ops record the graph (torch.is_grad_enabled). */
let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

export function setGradEnabled(on: boolean): void {
  enabled = on;
}

function withMode<T>(on: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = on;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Runs fn without recording the graph, like `with torch.no_grad():`. */
export function noGrad<T>(fn: () => T): T {
  return withMode(false, fn);
}

/** Runs fn with recording on, even inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withMode(true, fn);
}

let anomaly = false;

export function isAnomalyEnabled(): boolean {
  return anomaly;
}

/**
 * Runs fn with anomaly detection (torch.autograd.detect_anomaly): every
 * node remembers where the forward op was called, and a backward that
 * produces NaN throws an error naming the node and that place.
 */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = anomaly;
  anomaly = true;
  try {
    return fn();
  } finally {
    anomaly = prev;
  }
}

export function setDetectAnomaly(on: boolean): void {
  anomaly = on;
}
