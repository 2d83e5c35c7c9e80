// Events over time as bars (uPlot). Dragging across the chart zooms the filter to that range;
// the presets beside it are the keyboard way to do the same.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface HistogramData {
  fromUs: number;
  toUs: number;
  bucketUs: number;
  counts: number[];
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#4a7ab0";
}

function describe(h: HistogramData): string {
  const total = h.counts.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...h.counts);
  return `${total.toLocaleString()} requests from ${new Date(h.fromUs / 1000).toISOString()} to ${new Date(
    h.toUs / 1000,
  ).toISOString()}, at most ${peak.toLocaleString()} per ${h.bucketUs / 1e6} s bar`;
}

export function Histogram(props: {
  data: HistogramData | undefined;
  onZoom: (fromUs: number, toUs: number) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;

  useEffect(() => {
    const el = box.current;
    const data = props.data;
    if (el === null || data === undefined) return;
    const xs = data.counts.map((_, i) => (data.fromUs + i * data.bucketUs) / 1e6);
    const aligned: uPlot.AlignedData = [xs, data.counts];
    if (plot.current !== null) {
      plot.current.setData(aligned);
      return;
    }
    const bars = uPlot.paths.bars!({ size: [0.9, 40], align: 1 });
    const opts: uPlot.Options = {
      width: el.clientWidth || 800,
      height: 140,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        {
          stroke: cssVar("--muted"),
          grid: { stroke: cssVar("--grid") },
          ticks: { stroke: cssVar("--grid") },
        },
        {
          stroke: cssVar("--muted"),
          grid: { stroke: cssVar("--grid") },
          ticks: { stroke: cssVar("--grid") },
          size: 50,
        },
      ],
      series: [{}, { paths: bars, fill: cssVar("--bar"), stroke: cssVar("--bar"), points: { show: false } }],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 2) return;
            const from = u.posToVal(u.select.left, "x");
            const to = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current(Math.floor(from * 1e6), Math.ceil(to * 1e6));
          },
        ],
      },
    };
    plot.current = new uPlot(opts, aligned, el);
  }, [props.data]);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const observer = new ResizeObserver(() => {
      if (plot.current !== null && el.clientWidth > 0)
        plot.current.setSize({ width: el.clientWidth, height: 140 });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return (
    <figure class="histogram">
      <div
        ref={box}
        class="histogram-plot"
        role="img"
        aria-label={props.data ? describe(props.data) : "loading the histogram"}
        data-testid="histogram"
      />
      <figcaption class="muted">Drag across the bars to zoom into that time range.</figcaption>
    </figure>
  );
}
