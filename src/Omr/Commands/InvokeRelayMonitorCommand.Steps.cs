using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using Omr.Engine.Service;

namespace Omr.Commands
{
    /// <summary>The steps of Invoke-RelayMonitor, each a call of one of the module's cmdlets (see <see cref="NestedCommand"/>).</summary>
    public sealed partial class InvokeRelayMonitorCommand
    {
        private readonly List<RelayMonitorError> _errors = new List<RelayMonitorError>();
        private readonly Dictionary<string, string> _evidenceLinks = new Dictionary<string, string>(StringComparer.Ordinal);
        private MonitorLog? _log;

        /// <summary>1. The recorded scan. Returns the open results that have no notice for their case yet.</summary>
        private List<RelayTestResult> Scan(RelayMonitorRun run)
        {
            var scan = Common();
            scan["StatePath"] = StatePath;
            scan["Port"] = ScanPort;
            scan["TimeoutSec"] = TimeoutSec;
            scan["ThrottleLimit"] = ThrottleLimit;
            if (ProviderMx != null) scan["ProviderMx"] = ProviderMx;
            if (Exclude != null) scan["Exclude"] = Exclude;
            if (ExcludePath != null) scan["ExcludePath"] = ExcludePath;
            if (ExcludeHosted.IsPresent) scan["ExcludeHosted"] = true;
            if (ProbeFrom != null) scan["ProbeFrom"] = ProbeFrom;
            if (Blocklist != null) scan["Blocklist"] = Blocklist;
            var unnoticed = new List<RelayTestResult>();
            Step("scan", "Omr\\Test-OpenRelay", scan, _domains, o =>
            {
                if (!(o.BaseObject is RelayTestResult r)) return;
                Count(run, r);
                if (r.Verdict == RelayVerdict.Open && r.NoticedAt is null) unnoticed.Add(r);
            });
            var inconclusive = string.Join(", ", run.Inconclusive.OrderByDescending(p => p.Value).Select(p => p.Key + " " + p.Value.ToString(CultureInfo.InvariantCulture)));
            Log($"Scanned: {run.Tested} result(s); {run.Open} open ({run.NewlyOpen} newly, {run.StillOpen} still), {run.Fixed} fixed, {run.Hidden} hidden, {run.Unconfirmed} unconfirmed"
                + (inconclusive.Length > 0 ? "; inconclusive: " + inconclusive : string.Empty));
            return unnoticed;
        }

        private static void Count(RelayMonitorRun run, RelayTestResult r)
        {
            if (r.Verdict == RelayVerdict.Excluded) return; // not tested, by the operator's choice
            run.Tested++;
            switch (r.Verdict)
            {
                case RelayVerdict.Open: run.Open++; break;
                case RelayVerdict.Closed: run.Closed++; break;
                case RelayVerdict.Unreachable: run.Unreachable++; break;
                case RelayVerdict.Inconclusive:
                    var code = r.ReasonCode.ToString();
                    run.Inconclusive[code] = run.Inconclusive.TryGetValue(code, out var n) ? n + 1 : 1;
                    break;
            }
            switch (r.Change)
            {
                case RelayChange.New when r.Verdict == RelayVerdict.Open:
                case RelayChange.NewlyOpen: run.NewlyOpen++; break;
                case RelayChange.StillOpen: run.StillOpen++; break;
                case RelayChange.Fixed: run.Fixed++; break;
                case RelayChange.Hidden: run.Hidden++; break;
                case RelayChange.Unconfirmed:
                case RelayChange.NoLongerReachable: run.Unconfirmed++; break;
            }
        }

        /// <summary>
        /// 2. -Verify each open relay not noticed yet (one verification message each), 3. collect the
        /// evidence of all of them (Send-RelayNotice takes evidence: a relay that could not be verified
        /// gets evidence with the proof its scan had, and -MinimumProof decides whether it is noticed).
        /// </summary>
        private List<RelayEvidence> Prove(RelayMonitorRun run, List<RelayTestResult> unnoticed)
        {
            var evidence = new List<RelayEvidence>();
            if (unnoticed.Count == 0) return evidence;
            if (MailDrop is null && MailServer is null)
            {
                WriteWarning($"{unnoticed.Count} open relay(s) not noticed yet are not proven and not noticed: give -VerifyAddress with -MailDrop or -MailServer.");
                Log($"No evidence source: {unnoticed.Count} open relay(s) not noticed yet stay unproven");
                return evidence;
            }
            var candidates = new List<RelayTestResult>();
            var recorded = new Dictionary<string, string>(StringComparer.Ordinal); // verification probe id -> the recorded scan result's
            foreach (var r in unnoticed)
            {
                if (VerifyAddress is null) { candidates.Add(r); continue; }
                var verify = Common();
                verify["ComputerName"] = r.Address;
                verify["Port"] = r.Port;
                if (!string.IsNullOrEmpty(r.Domain)) verify["Domain"] = r.Domain;
                verify["TimeoutSec"] = TimeoutSec;
                verify["Verify"] = true;
                verify["VerifyAddress"] = VerifyAddress;
                if (ProbeFrom != null) verify["ProbeFrom"] = ProbeFrom;
                if (Blocklist != null) verify["Blocklist"] = Blocklist;
                PassShouldProcess(verify);
                RelayTestResult? again = null;
                Step("verify", "Omr\\Test-OpenRelay", verify, null, o => { if (o.BaseObject is RelayTestResult v) again ??= v; });
                // The result of the verification run when it is still open (its proof, DataAccepted once a
                // server took the message); the scan's result when it no longer is, or the run failed.
                var proven = again != null && again.Verdict == RelayVerdict.Open ? again : r;
                if (proven.Proof >= RelayProof.DataAccepted) run.Verified++;
                if (!ReferenceEquals(proven, r)) recorded[proven.ProbeId] = r.ProbeId;
                candidates.Add(proven);
            }
            if (VerifyAddress != null) Log($"Verification messages taken by {run.Verified} of {unnoticed.Count} open relay(s), to {VerifyAddress}");

            var collect = new Dictionary<string, object?> { ["WaitSec"] = run.Verified > 0 ? EvidenceWaitSec : 0 };
            collect["OutputPath"] = EvidenceRoot;
            if (MailDrop != null) collect["MailDrop"] = MailDrop;
            else
            {
                collect["MailServer"] = MailServer;
                collect["Protocol"] = Protocol;
                collect["Security"] = Security;
                if (Port > 0) collect["Port"] = Port;
                if (SkipCertificateCheck.IsPresent) collect["SkipCertificateCheck"] = true;
                var credential = MailboxCredential();
                if (credential is null) return evidence;
                collect["Credential"] = credential;
            }
            Step("evidence", "Omr\\Get-RelayEvidence", collect, candidates, o =>
            {
                if (!(o.BaseObject is RelayEvidence e)) return;
                evidence.Add(e);
                if (e.Delivered) run.EvidenceCollected++;
                if (e.BundlePath != null) _evidenceLinks[e.ProbeId] = Path.Combine(e.BundlePath, "report.html");
            });
            Log($"Evidence: {run.EvidenceCollected} of {candidates.Count} delivered");
            RecordProof(candidates, evidence, recorded);
            return evidence;
        }

        /// <summary>The recorded scan results get the proof their verification found (the verification itself is not a scan of the history).</summary>
        private void RecordProof(List<RelayTestResult> verified, List<RelayEvidence> evidence, Dictionary<string, string> recorded)
        {
            var proofs = new Dictionary<string, RelayProof>(StringComparer.Ordinal);
            foreach (var v in verified)
                if (recorded.TryGetValue(v.ProbeId, out var scan) && v.Proof >= RelayProof.DataAccepted) proofs[scan] = v.Proof;
            foreach (var e in evidence)
                if (e.Delivered && recorded.TryGetValue(e.ProbeId, out var scan)) proofs[scan] = RelayProof.Delivered;
            try
            {
                MonitorReport.RecordProof(Resolve(StatePath)!, proofs);
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                Fail("evidence", new ErrorRecord(ex, "StateUpdateFailed", ErrorCategory.WriteError, StatePath));
            }
        }

        /// <summary>The -MailServer credential: -Credential, or -CredentialPath (Import-Clixml), or -SecretName (Get-Secret).</summary>
        private PSCredential? MailboxCredential()
        {
            if (Credential != null) return Credential;
            if (CredentialPath is null && SecretName is null) return null;
            PSCredential? found = null;
            var parameters = new Dictionary<string, object?>();
            string command;
            if (CredentialPath != null)
            {
                command = "Microsoft.PowerShell.Utility\\Import-Clixml";
                parameters["LiteralPath"] = Resolve(CredentialPath);
            }
            else
            {
                command = "Microsoft.PowerShell.SecretManagement\\Get-Secret";
                parameters["Name"] = SecretName;
                if (SecretVault != null) parameters["Vault"] = SecretVault;
            }
            Step("credential", command, parameters, null, o => found ??= o.BaseObject as PSCredential);
            if (found is null && !_errors.Any(e => e.Step == "credential"))
                Fail("credential", new ErrorRecord(new InvalidDataException(
                        (CredentialPath != null ? "The credential file " + CredentialPath : "The secret " + SecretName) + " does not hold a PSCredential."),
                    "CredentialNotFound", ErrorCategory.InvalidData, CredentialPath ?? SecretName));
            return found;
        }

        /// <summary>4. Notices for what was proven, then the reminders (-EscalateAfter) and the resolved follow-ups.</summary>
        private void Notify(RelayMonitorRun run, List<RelayEvidence> toNotice)
        {
            void Counted(PSObject o)
            {
                if (!(o.BaseObject is RelayNotice n)) return;
                var sent = n.Status == NoticeStatus.Sent || n.Status == NoticeStatus.Written;
                if (n.Status == NoticeStatus.Failed) run.NoticesFailed++;
                if (sent && n.Kind == NoticeKind.Notice) run.NoticesSent++;
                if (sent && n.Kind == NoticeKind.Reminder) run.RemindersSent++;
                if (sent && n.Kind == NoticeKind.Resolved) run.FollowUpsSent++;
                // A failed one arrives as Send-RelayNotice's error too (NoticeSendFailed, NoticeWriteFailed): counted there.
                Log($"{n.Kind}: {n}");
            }
            if (toNotice.Count > 0) Step("notice", "Omr\\Send-RelayNotice", Send(), toNotice, Counted);
            var reminders = Send();
            reminders["EscalateAfter"] = EscalateAfter;
            Step("reminder", "Omr\\Send-RelayNotice", reminders, null, Counted);
            var resolved = Send();
            resolved["Resolved"] = true;
            Step("resolved", "Omr\\Send-RelayNotice", resolved, null, Counted);
            Log($"Notices {run.NoticesSent}, reminders {run.RemindersSent}, follow-ups {run.FollowUpsSent}, failed {run.NoticesFailed}");
        }

        private Dictionary<string, object?> Send()
        {
            var send = Common();
            send["StatePath"] = StatePath;
            send["From"] = From;
            send["MinimumProof"] = MinimumProof;
            send["Format"] = Format;
            if (MyInvocation.BoundParameters.ContainsKey(nameof(NetworkAbuse))) send["NetworkAbuse"] = NetworkAbuse;
            if (RdapServer != null) send["RdapServer"] = RdapServer;
            if (To != null) send["To"] = To;
            if (Cc != null) send["Cc"] = Cc;
            if (ProviderMx != null) send["ProviderMx"] = ProviderMx;
            if (PickupDirectory != null) send["PickupDirectory"] = PickupDirectory;
            else
            {
                send["SmtpServer"] = SmtpServer;
                send["Security"] = SmtpSecurity;
                if (SmtpPort > 0) send["Port"] = SmtpPort;
                if (SmtpCredential != null) send["Credential"] = SmtpCredential;
                if (SkipCertificateCheck.IsPresent) send["SkipCertificateCheck"] = true;
            }
            PassShouldProcess(send);
            return send;
        }

        /// <summary>What every step gets: -DnsServer, -Verbose as asked, and errors that do not end the step.</summary>
        private Dictionary<string, object?> Common()
        {
            var p = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase) { ["ErrorAction"] = ActionPreference.Continue };
            if (DnsServer != null) p["DnsServer"] = DnsServer;
            if (VerboseWanted()) p["Verbose"] = true;
            return p;
        }

        /// <summary>
        /// -WhatIf and -Confirm reach every step that sends. A scheduled run has nobody to answer a prompt,
        /// so without an explicit -Confirm the steps do not ask (Send-RelayNotice's ConfirmImpact is High).
        /// </summary>
        private void PassShouldProcess(IDictionary<string, object?> p)
        {
            var bound = MyInvocation.BoundParameters;
            if (bound.TryGetValue("WhatIf", out var w) && w is SwitchParameter whatIf && whatIf.IsPresent) p["WhatIf"] = true;
            p["Confirm"] = bound.TryGetValue("Confirm", out var c) && c is SwitchParameter confirm && confirm.IsPresent;
        }

        private bool WhatIfRun => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent;

        /// <summary>Runs one step; its errors are written and counted, its warnings and verbose lines passed on.</summary>
        private void Step(string step, string command, IDictionary parameters, IEnumerable? input, Action<PSObject> sink)
        {
            var name = command.Substring(command.IndexOf('\\') + 1);
            Progress($"{step}: {name}");
            Log($"{step}: {name}");
            NestedCommand.Outcome outcome;
            try
            {
                outcome = NestedCommand.Run(command, parameters, input, sink);
            }
            catch (PipelineStoppedException) { throw; }
            catch (Exception ex) when (!(ex is PipelineStoppedException))
            {
                Fail(step, new ErrorRecord(ex, "MonitorStepFailed", ErrorCategory.NotSpecified, step));
                return;
            }
            foreach (var v in outcome.Verbose) WriteVerbose(v);
            foreach (var w in outcome.Warnings) { WriteWarning(w); Log("WARNING " + step + ": " + w); }
            foreach (var e in outcome.Errors) Fail(step, e);
        }

        /// <summary>One progress record per step (the steps' own progress stays inside them).</summary>
        private void Progress(string status, bool done = false)
        {
            var record = new ProgressRecord(0x0e1a, "Invoke-RelayMonitor: " + _domains.Count.ToString(CultureInfo.InvariantCulture) + " domain(s)", status);
            if (done) record.RecordType = ProgressRecordType.Completed;
            WriteProgress(record);
        }

        /// <summary>Counts an error of <paramref name="step"/>, logs it and writes it.</summary>
        private void Fail(string step, ErrorRecord record)
        {
            _errors.Add(new RelayMonitorError
            {
                Step = step,
                ErrorId = record.FullyQualifiedErrorId,
                Target = record.TargetObject?.ToString(),
                Message = record.ErrorDetails?.Message ?? record.Exception?.Message ?? string.Empty,
            });
            Log($"ERROR {step}: {record.FullyQualifiedErrorId} {record.TargetObject}: {record.ErrorDetails?.Message ?? record.Exception?.Message}");
            WriteError(record);
        }

        private void Log(string line)
        {
            WriteVerbose(line);
            if (_log?.Append(line) is string problem)
            {
                _log = null;
                Fail("log", new ErrorRecord(new IOException(problem), "MonitorLogFailed", ErrorCategory.WriteError, LogPath));
            }
        }
    }
}
