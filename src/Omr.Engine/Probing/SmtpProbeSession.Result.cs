using System;
using System.Collections.Generic;
using System.Linq;
using Omr.Engine.Rules;

namespace Omr.Engine.Probing
{
    /// <summary>The session's result for each (domain, host) context: the verdict from the facts, and what the user reads.</summary>
    public sealed partial class SmtpProbeSession
    {
        public RelayTestResult BuildResult(string probeId) => BuildResult(Primary, probeId);

        internal RelayTestResult BuildResult(ProbeTargetContext ctx, string probeId)
        {
            var start = _start ?? DateTimeOffset.UtcNow;
            var outcomes = new RelayTestOutcome?[_settings.Tests.Count];
            if (ctx.Units != null)
                for (int i = 0; i < outcomes.Length; i++) outcomes[i] = ctx.Units[i].Outcome;
            _facts.Outcomes = outcomes;
            _facts.VerifyWithheld = VerifyWithheld();
            var decision = VerdictRules.Decide(_facts);
            var (verdict, reason) = decision;
            if (_facts.OutOfStep != null && decision.Code != RelayReasonCode.OutOfStep)
                reason += $" (Replies were out of step at first: {_facts.OutOfStep}; the verdict comes from the tests run again one command at a time.)";
            if (_recipientNote != null && ctx.Units != null) reason += " " + _recipientNote;
            // The strongest proof, said once: a verification that was accepted says so; otherwise an
            // acceptance is only an accepted RCPT.
            if (ctx.VerificationNote != null) reason += " " + ctx.VerificationNote;
            if (verdict == RelayVerdict.Open && ctx.Proof < RelayProof.DataAccepted) reason += " " + ProofText.RecipientOnly;
            var accepted = outcomes.Any(o => o?.Accepted == true);
            var target = ctx.Target;
            TranscriptEntry[]? transcript = null;
            if (_contexts.Count > 1)
            {
                // The session's own lines, this context's units and its own verification.
                var mine = new HashSet<int>(ctx.Units is null ? Enumerable.Empty<int>() : ctx.Units.Select(u => u.Id)) { ctx.Tag };
                transcript = _transcript.ToArray(t => mine.Contains(t) || (_battery.GroupTags.TryGetValue(t, out var members) && members.Any(mine.Contains)));
            }
            var result = target.Describe(new RelayTestResult
            {
                Verdict = verdict,
                ReasonCode = decision.Code,
                Reason = reason,
                Banner = _banner,
                Tls = _tls?.ToString() ?? ("None" + (_tlsNote is null ? string.Empty : " (" + _tlsNote + ")")),
                RelayedBy = outcomes.Where(o => o?.Accepted == true).Select(o => o!.Name).ToArray(),
                Proof = ctx.Proof > RelayProof.RecipientAccepted ? ctx.Proof : accepted ? RelayProof.RecipientAccepted : RelayProof.None,
                VerifyAddress = ctx.VerifyAddress,
                VerifiedWith = ctx.VerifiedWith,
                VerificationMessageId = ctx.VerificationMessageId,
                VerificationReply = ctx.VerificationReply,
                Tests = outcomes.Select((o, i) => o ?? NotRun(ctx, i)).ToArray(),
                StartTime = start,
                Duration = DateTimeOffset.UtcNow - start,
                ProbeId = probeId,
                Extensions = _extensions,
                Connections = _connections,
                BytesReceived = _budget.Used,
            });
            // One context: its transcript is the session's, built into entries only when it is read.
            var ehloLine = _ehloLine;
            result.SoftwareSource = () => SoftwareRules.Identify(result, ehloLine);
            if (transcript is null) result.TranscriptSource = _transcript.Snapshot();
            else result.Transcript = transcript;
            return result;
        }

        private static bool IsTemporary(RelayTestOutcome? o) => o != null && o.ReplyCode >= 400 && o.ReplyCode < 500;

        private RelayTestOutcome NotRun(ProbeTargetContext ctx, int i)
        {
            var def = _settings.Tests[i];
            var unit = ctx.Units?[i];
            return new RelayTestOutcome
            {
                Name = def.Name,
                MailFrom = unit?.MailFrom ?? def.MailFromTemplate,
                RcptTo = unit?.RcptTo ?? def.RcptToTemplate,
                Proves = def.Proves,
                Error = _facts.StoppedOnFirst ? "not run (stopped at the first accepted test)" : "not completed: " + (_facts.DeadlineReached ? "deadline reached" : _facts.FailureMessage ?? "session ended"),
            };
        }
    }
}
