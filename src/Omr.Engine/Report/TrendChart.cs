using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Omr.Engine.Report
{
    /// <summary>
    /// The trend as inline SVG: time on x (the window's days), open relays per scan on y; a polyline through the
    /// scans, one <c>circle class="run"</c> per scan with a <c>title</c> (date and counts), newly open as a red bar
    /// up from the axis and fixed or hidden as a green bar down from it, axis labels and a legend.
    /// </summary>
    internal static class TrendChart
    {
        private const double Width = 560, Height = 220, Left = 44, Right = 12, Top = 14, Bottom = 58;

        public static void Render(StringBuilder h, IReadOnlyList<TrendPoint> points, DateTimeOffset from, DateTimeOffset to, string id, string caption)
        {
            var plotW = Width - Left - Right;
            var plotH = Height - Top - Bottom;
            var axisY = Top + plotH;
            var max = Math.Max(1, points.Count == 0 ? 0 : points.Max(p => Math.Max(p.Open, Math.Max(p.NewlyOpen, p.Fixed + p.Hidden))));
            var span = Math.Max(1, (to - from).TotalSeconds);
            double X(DateTimeOffset t) => Left + plotW * Math.Min(1, Math.Max(0, (t - from).TotalSeconds / span));
            double Y(int n) => axisY - plotH * n / max;
            // The change markers share the y scale, at most a quarter of the plot high so the line stays readable.
            double Bar(int n) => Math.Min(plotH / 4, plotH * n / max);

            h.Append("<figure>\n<svg id=\"").Append(id).Append("\" width=\"").Append(F(Width)).Append("\" height=\"").Append(F(Height))
             .Append("\" viewBox=\"0 0 ").Append(F(Width)).Append(' ').Append(F(Height)).Append("\" role=\"img\" aria-label=\"").Append(RelayReportHtml.E(caption + ": open relays per scan")).Append("\">\n");
            // Axes, gridline at the top value, labels.
            h.Append("<line x1=\"").Append(F(Left)).Append("\" y1=\"").Append(F(Top)).Append("\" x2=\"").Append(F(Left)).Append("\" y2=\"").Append(F(axisY)).Append("\" stroke=\"#9aa5b1\"/>\n");
            h.Append("<line x1=\"").Append(F(Left)).Append("\" y1=\"").Append(F(axisY)).Append("\" x2=\"").Append(F(Left + plotW)).Append("\" y2=\"").Append(F(axisY)).Append("\" stroke=\"#9aa5b1\"/>\n");
            h.Append("<line x1=\"").Append(F(Left)).Append("\" y1=\"").Append(F(Top)).Append("\" x2=\"").Append(F(Left + plotW)).Append("\" y2=\"").Append(F(Top)).Append("\" stroke=\"#e6eaee\"/>\n");
            Text(h, Left - 6, Top + 4, "end", RelayReportHtml.N(max));
            Text(h, Left - 6, axisY + 4, "end", "0");
            Text(h, Left, axisY + 28, "start", RelayReportHtml.Day(from));
            Text(h, Left + plotW / 2, axisY + 28, "middle", RelayReportHtml.Day(from.AddSeconds(span / 2)));
            Text(h, Left + plotW, axisY + 28, "end", RelayReportHtml.Day(to));
            Text(h, 4, Top + plotH / 2, "start", "open");

            foreach (var p in points)
            {
                var x = X(p.Started);
                if (p.NewlyOpen > 0)
                    h.Append("<rect class=\"newly\" x=\"").Append(F(x - 3)).Append("\" y=\"").Append(F(axisY - Bar(p.NewlyOpen))).Append("\" width=\"3\" height=\"").Append(F(Bar(p.NewlyOpen))).Append("\" fill=\"#d93025\"/>\n");
                if (p.Fixed + p.Hidden > 0)
                    h.Append("<rect class=\"fixed\" x=\"").Append(F(x)).Append("\" y=\"").Append(F(axisY + 1)).Append("\" width=\"3\" height=\"").Append(F(Math.Min(Bar(p.Fixed + p.Hidden), 12))).Append("\" fill=\"#1e8e3e\"/>\n");
            }
            if (points.Count > 1)
            {
                h.Append("<polyline class=\"open\" fill=\"none\" stroke=\"#b3261e\" stroke-width=\"1.5\" points=\"");
                h.Append(string.Join(" ", points.Select(p => F(X(p.Started)) + "," + F(Y(p.Open)))));
                h.Append("\"/>\n");
            }
            foreach (var p in points)
            {
                h.Append("<circle class=\"run\" cx=\"").Append(F(X(p.Started))).Append("\" cy=\"").Append(F(Y(p.Open))).Append("\" r=\"2.5\" fill=\"#b3261e\"><title>")
                 .Append(RelayReportHtml.E(RelayReportHtml.When(p.Started) + ": " + RelayReportHtml.N(p.Open) + " open, " + RelayReportHtml.N(p.NewlyOpen) + " newly open, "
                    + RelayReportHtml.N(p.Fixed) + " fixed, " + RelayReportHtml.N(p.Hidden) + " hidden"))
                 .Append("</title></circle>\n");
            }
            if (points.Count == 0) Text(h, Left + plotW / 2, Top + plotH / 2, "middle", "no scan in these days");
            // Legend.
            var ly = Height - 14;
            h.Append("<circle cx=\"").Append(F(Left + 4)).Append("\" cy=\"").Append(F(ly - 4)).Append("\" r=\"2.5\" fill=\"#b3261e\"/>\n");
            Text(h, Left + 12, ly, "start", "open relays in the scan");
            h.Append("<rect x=\"").Append(F(Left + 170)).Append("\" y=\"").Append(F(ly - 10)).Append("\" width=\"3\" height=\"10\" fill=\"#d93025\"/>\n");
            Text(h, Left + 178, ly, "start", "newly open");
            h.Append("<rect x=\"").Append(F(Left + 260)).Append("\" y=\"").Append(F(ly - 10)).Append("\" width=\"3\" height=\"10\" fill=\"#1e8e3e\"/>\n");
            Text(h, Left + 268, ly, "start", "fixed or hidden");
            h.Append("</svg>\n<figcaption>").Append(RelayReportHtml.E(caption + ": " + RelayReportHtml.N(points.Count) + " scan" + (points.Count == 1 ? string.Empty : "s")))
             .Append("</figcaption>\n</figure>\n");
        }

        private static void Text(StringBuilder h, double x, double y, string anchor, string text)
            => h.Append("<text x=\"").Append(F(x)).Append("\" y=\"").Append(F(y)).Append("\" text-anchor=\"").Append(anchor).Append("\">").Append(RelayReportHtml.E(text)).Append("</text>\n");

        private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
    }
}
