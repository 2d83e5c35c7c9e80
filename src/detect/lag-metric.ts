// The detector's lag as a Prometheus gauge on /metrics.
import { Gauge, type Registry } from "prom-client";

const DETECTOR_LAG_GAUGE = "kubetrail_detector_lag_entries";

/**
 * Entries appended but not yet evaluated by the detector, read at each scrape (the index's lag
 * gauges are the index feeder's: registerIndexMetrics). Registered again by a restarted
 * detector, which replaces the gauge.
 */
export function registerDetectorLag(
  registry: Registry,
  logSize: () => number,
  position: () => number | undefined,
): void {
  registry.removeSingleMetric(DETECTOR_LAG_GAUGE);
  new Gauge({
    name: DETECTOR_LAG_GAUGE,
    help: "Log entries appended but not yet evaluated by the detector (alerts durable)",
    registers: [registry],
    collect() {
      const p = position();
      if (p !== undefined) this.set(Math.max(0, logSize() - p));
    },
  });
}
