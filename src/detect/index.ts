// What the rest of kubetrail (serve, the CLI) uses from detection.
export { createDetector, type Detector, type DetectorOptions, type DetectorStats } from "./detector.js";
export { startLiveDetection, type LiveDetection, type LiveDetectionOptions } from "./live.js";
export { loadRules, type LoadRulesOptions } from "./load-rules.js";
export { readRulesConfig, parseRulesConfig, type RulesConfig, type SinkSpec } from "./rules-config.js";
export { createSinks } from "./sinks/index.js";
export {
  DetectError,
  type Alert,
  type AlertSink,
  type RecordedAlert,
  type Rule,
  type Severity,
} from "./types.js";
