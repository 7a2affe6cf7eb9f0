using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Omr.Engine;
using Omr.Engine.Notices;
using Omr.Engine.Report;
using Omr.Engine.Service;

namespace Omr.Commands
{
    /// <summary>5. The morning report (files and mail), and the run's domain list and log.</summary>
    public sealed partial class InvokeRelayMonitorCommand
    {
        /// <summary>-EvidencePath, or the folder "evidence" beside the state database.</summary>
        private string EvidenceRoot => Resolve(EvidencePath) ?? Path.Combine(Path.GetDirectoryName(Resolve(StatePath)!) ?? ".", "evidence");

        /// <summary>The evidence of this run, and of every earlier run's bundles under the evidence folder.</summary>
        private Dictionary<string, string> Links()
        {
            var links = MonitorReport.EvidenceIndex(EvidenceRoot);
            foreach (var pair in _evidenceLinks) links[pair.Key] = pair.Value;
            return links;
        }

        private void Report(RelayMonitorRun run)
        {
            if (ReportPath is null && ReportTo is null) return;
            MonitorReportFiles files;
            try
            {
                var facts = new ReportRunFacts
                {
                    Started = run.StartTime,
                    Ended = DateTimeOffset.Now,
                    Errors = _errors.Select(e => new ReportError(e.Step, e.ErrorId, e.Target, e.Message)).ToList(),
                    EvidenceLinks = Links(),
                };
                files = MonitorReport.Write(run.StatePath!, facts, DateTimeOffset.Now, EscalateAfter, Resolve(ReportPath));
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                Fail("report", new ErrorRecord(ex, "ReportFailed", ErrorCategory.WriteError, ReportPath ?? StatePath));
                return;
            }
            run.ReportPath = files.HtmlPath;
            run.TextReportPath = files.TextPath;
            if (files.HtmlPath != null) Log($"Report: {files.HtmlPath}");
            if (ReportTo is null) return;

            var target = string.Join(", ", ReportTo);
            if (!ShouldProcess(target, (PickupDirectory != null ? "Write" : "Send") + " the report '" + files.Subject + "'"))
            {
                run.ReportMail = WhatIfRun ? NoticeStatus.WhatIf : NoticeStatus.Skipped;
                return;
            }
            var warnings = new System.Collections.Concurrent.ConcurrentQueue<string>();
            try
            {
                var mail = MonitorReport.Mail(From!, ReportTo, files);
                using INoticeDelivery delivery = PickupDirectory != null
                    ? new PickupNoticeDelivery(Resolve(PickupDirectory)!)
                    : new SmtpNoticeDelivery(new SmtpDeliverySettings
                    {
                        Host = SmtpServer!,
                        Port = SmtpPort,
                        Security = SmtpSecurity,
                        SkipCertificateCheck = SkipCertificateCheck.IsPresent,
                        // The password leaves the PSCredential only here, into the NetworkCredential the engine authenticates with.
                        Credential = SmtpCredential?.GetNetworkCredential(),
                        Timeout = TimeSpan.FromSeconds(60),
                        Warning = warnings.Enqueue,
                    });
                var task = Task.Run(() => delivery.DeliverAsync(mail, StopToken), StopToken);
                task.Wait(StopToken);
                var result = task.GetAwaiter().GetResult();
                run.ReportMail = PickupDirectory != null ? NoticeStatus.Written : NoticeStatus.Sent;
                Log($"Report mailed to {target}: {result.Reply ?? result.Path}");
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                var inner = Unwrap(ex);
                run.ReportMail = NoticeStatus.Failed;
                Fail("report-mail", new ErrorRecord(inner, "ReportMailFailed", ErrorCategory.WriteError, target));
            }
            finally
            {
                while (warnings.TryDequeue(out var w)) WriteWarning(w);
            }
        }
    }

    /// <summary>The domain file of Invoke-RelayMonitor: text (one a line, # comments) or CSV (a Domain, DomainName or DNSRoot column).</summary>
    internal static class DomainList
    {
        private static readonly string[] Columns = { "Domain", "DomainName", "DNSRoot" };

        public static IEnumerable<string> Read(string path)
        {
            if (string.Equals(Path.GetExtension(path), ".csv", StringComparison.OrdinalIgnoreCase))
            {
                // Import-Csv parses the CSV (quotes, separators, a BOM), as a user's script would.
                var rows = new List<PSObject>();
                var parameters = new Dictionary<string, object?> { ["LiteralPath"] = path };
                var outcome = NestedCommand.Run("Microsoft.PowerShell.Utility\\Import-Csv", parameters, null, rows.Add);
                if (outcome.Errors.Count > 0) throw new InvalidDataException("The domain file " + path + " could not be read as CSV: " + outcome.Errors[0].Exception?.Message);
                if (rows.Count == 0) yield break;
                var column = Columns.FirstOrDefault(c => rows[0].Properties[c] != null)
                    ?? throw new InvalidDataException("The CSV domain file " + path + " has no Domain, DomainName or DNSRoot column.");
                foreach (var row in rows)
                {
                    var v = row.Properties[column]?.Value?.ToString();
                    if (!string.IsNullOrWhiteSpace(v)) yield return v!.Trim();
                }
                yield break;
            }
            foreach (var line in ListText.Lines(File.ReadAllText(path))) yield return line.Text;
        }
    }

    /// <summary>-LogPath: one line per step, appended with its time; the first failure to write is reported once.</summary>
    internal sealed class MonitorLog
    {
        public MonitorLog(string? path) => Path = path;

        public string? Path { get; }

        /// <summary>Appends the line; returns why it could not, or null.</summary>
        public string? Append(string line)
        {
            if (Path is null) return null;
            try
            {
                var dir = System.IO.Path.GetDirectoryName(Path);
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
                File.AppendAllText(Path, DateTimeOffset.Now.ToString("yyyy-MM-dd HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture) + " " + line + Environment.NewLine);
                return null;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
            {
                return "The log " + Path + " cannot be written: " + ex.Message;
            }
        }
    }
}
