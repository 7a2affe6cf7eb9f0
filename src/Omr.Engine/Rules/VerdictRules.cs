using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Omr.Engine.Probing;

namespace Omr.Engine.Rules
{
    /// <summary>What a session established, before any judgement.</summary>
    public sealed class ProbeFacts
    {
        public bool Connected { get; set; }
        /// <summary>The last connection attempt timed out (rather than being refused).</summary>
        public bool ConnectTimedOut { get; set; }
        public SmtpReply? Greeting { get; set; }
        /// <summary>Some greeting bytes arrived (a partial greeting is a tarpit sign, silence is not).</summary>
        public bool GreetingBytesSeen { get; set; }
        /// <summary>At least one complete, well-formed greeting line arrived (a 220- banner in progress).</summary>
        public bool GreetingLineSeen { get; set; }
        /// <summary>The failure that ended the last connection, if any.</summary>
        public SmtpFailureKind? Failure { get; set; }
        public string? FailureMessage { get; set; }
        /// <summary>The command the failure happened at ("connect", "greeting", "EHLO", "STARTTLS", "MAIL", ...).</summary>
        public string? FailureStage { get; set; }
        /// <summary>Set when TLS was demanded (by -Tls Required or the server) and could not be had.</summary>
        public string? TlsProblem { get; set; }
        /// <summary>The session-level refusal that stopped everything (e.g. HELO refused).</summary>
        public SmtpReply? SessionRefusal { get; set; }
        public bool DeadlineReached { get; set; }

        /// <summary>Forgets how the last run ended (before another run of the same session).</summary>
        public void ClearFailure()
        {
            Failure = null; FailureMessage = null; FailureStage = null; DeadlineReached = false;
        }
        public TimeSpan Timeout { get; set; }
        public TimeSpan SlowestReply { get; set; }
        public TimeSpan SlowReplyThreshold { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>One entry per planned test, null where the test did not complete.</summary>
        public IReadOnlyList<RelayTestOutcome?> Outcomes { get; set; } = Array.Empty<RelayTestOutcome?>();
        public bool StoppedOnFirst { get; set; }
        /// <summary>Why the replies were out of step with the commands, when they were (pipelined or one at a time).</summary>
        public string? OutOfStep { get; set; }
        /// <summary>A pipelined acceptance was confirmed one command at a time.</summary>
        public bool Confirmed { get; set; }
        public bool GreylistRetried { get; set; }
        /// <summary>The tester's own address on the connection (a refusal that names it refuses the client).</summary>
        public string? ClientAddress { get; set; }
        /// <summary>
        /// Set with -Verify when this server is a mail host of the -VerifyAddress domain: why no
        /// verification message goes through it (it would deliver the message itself).
        /// </summary>
        public string? VerifyWithheld { get; set; }
    }

    /// <summary>A verdict, its machine-readable reason code and the reason text.</summary>
    public readonly struct VerdictDecision
    {
        public VerdictDecision(RelayVerdict verdict, RelayReasonCode code, string reason)
        {
            Verdict = verdict; Code = code; Reason = reason;
        }

        public RelayVerdict Verdict { get; }
        public RelayReasonCode Code { get; }
        public string Reason { get; }

        public void Deconstruct(out RelayVerdict verdict, out string reason)
        {
            verdict = Verdict; reason = Reason;
        }
    }

    /// <summary>What a result's proof level shows, said once at the end of its reason.</summary>
    public static class ProofText
    {
        public const string RecipientOnly = "An accepted RCPT is not yet proof of delivery.";

        public static string Delivered(string? mailbox) => "The verification message was delivered to " + (mailbox ?? "the operator's mailbox") + ": the relay is proven.";
    }

    /// <summary>The verdict rules: one small pure function.</summary>
    public static class VerdictRules
    {
        private static VerdictDecision D(RelayVerdict v, RelayReasonCode c, string reason) => new VerdictDecision(v, c, reason);

        public static VerdictDecision Decide(ProbeFacts f)
        {
            var done = f.Outcomes.Where(o => o != null).Select(o => o!).ToList();
            int planned = f.Outcomes.Count;
            var accepted = done.Where(o => o.Accepted).ToList();

            // 1. A foreign recipient accepted by a complete reply that provably answers that RCPT (one
            // command at a time, or an in-step pipelined group confirmed one command at a time) is a
            // fact, whatever happened afterwards.
            if (accepted.Count > 0)
            {
                var note = f.StoppedOnFirst ? " (stopped at the first)" : string.Empty;
                var text = $"{accepted.Count} of {planned} relay tests accepted a foreign recipient{note}: {NameList(accepted.Select(a => a.Name).ToList())}.";
                // The relay is seen, but it cannot be proven with the operator's mailbox: this server receives its mail itself.
                if (f.VerifyWithheld != null)
                    return D(RelayVerdict.Open, RelayReasonCode.RecipientLocal, text + " " + f.VerifyWithheld);
                return D(RelayVerdict.Open, RelayReasonCode.RelayAccepted, text);
            }

            // 2. No TCP connection.
            if (!f.Connected)
                return D(RelayVerdict.Unreachable, f.ConnectTimedOut ? RelayReasonCode.ConnectTimeout : RelayReasonCode.ConnectionRefused, "No connection: " + (f.FailureMessage ?? "unknown error") + ".");

            // 3. A flood: the per-host byte budget is spent, wherever it happened. Before even one
            // complete greeting line, nothing SMTP was heard: that is no greeting.
            if (f.Failure == SmtpFailureKind.TooMuchData && f.Greeting is null && !f.GreetingLineSeen)
                return D(RelayVerdict.Unreachable, RelayReasonCode.TooMuchData, $"Connected, but no SMTP greeting: {f.FailureMessage} without ending a line.");
            if (f.Failure == SmtpFailureKind.TooMuchData)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.TooMuchData, $"The server sent too much at {f.FailureStage ?? "?"} ({f.FailureMessage}); abandoned after {done.Count} of {planned} tests.");

            // 4. Connected, but no usable greeting.
            if (f.Greeting is null)
            {
                if ((f.DeadlineReached || f.Failure == SmtpFailureKind.Timeout) && f.GreetingBytesSeen)
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.Tarpit, $"Tarpit: the greeting was still incomplete when {(f.DeadlineReached ? $"the deadline ({Secs(f.Timeout)}) passed" : "the reply timeout passed")}.");
                if (f.Failure == SmtpFailureKind.NotSmtp)
                    return D(RelayVerdict.Unreachable, RelayReasonCode.NotSmtp, "Connected, but the port does not speak SMTP: " + (f.FailureMessage ?? "unknown") + ".");
                if (f.DeadlineReached)
                    return D(RelayVerdict.Unreachable, RelayReasonCode.NoGreeting, $"Connected, but no greeting before the deadline ({Secs(f.Timeout)}); the port may be a tarpit or not SMTP.");
                return D(RelayVerdict.Unreachable, RelayReasonCode.NoGreeting, "Connected, but no SMTP greeting: " + (f.FailureMessage ?? "unknown") + ".");
            }

            // 5. The greeting itself refused us: the client is refused, no relay test ran (a server
            // greets 554 to addresses on its blocklist). That is never Closed, and never a fix.
            if (f.Greeting.IsPermanent)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, $"The server refused this client at the greeting ({f.Greeting}) before any relay test. {NoPolicySeen}");
            if (f.Greeting.IsTransient)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, $"The server refused the session at the greeting ({f.Greeting}) on every try, before any relay test. {NoPolicySeen}");

            // 6. TLS demanded and not had.
            if (f.TlsProblem != null)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.TlsRequired, f.TlsProblem);

            // 7. Authentication or TLS demanded by the server before it takes mail.
            var auth = done.FirstOrDefault(IsAuthOrTlsRequired);
            if (auth != null)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.AuthRequired, $"The server requires authentication or TLS before it accepts mail ({ReplyOf(auth)}); relaying cannot be judged without credentials.");

            if (f.SessionRefusal != null)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused, $"The server refused this client at {f.FailureStage ?? "setup"} ({f.SessionRefusal}) before any relay test. {NoPolicySeen}");

            // 8. Replies out of step with the commands, and one command at a time did not finish the battery.
            bool incomplete = done.Count < planned && !f.StoppedOnFirst;
            if (f.Failure == SmtpFailureKind.OutOfStep || (f.OutOfStep != null && incomplete))
            {
                var first = f.OutOfStep ?? f.FailureMessage ?? "unknown";
                var then = f.OutOfStep != null && f.FailureMessage != null && f.FailureMessage != f.OutOfStep
                    ? $"; one command at a time, the session then ended at {f.FailureStage ?? "?"} ({f.FailureMessage})"
                    : f.OutOfStep != null && f.DeadlineReached ? $"; one command at a time, the deadline ({Secs(f.Timeout)}) passed" : string.Empty;
                return D(RelayVerdict.Inconclusive, RelayReasonCode.OutOfStep,
                    $"The server's replies were out of step with the commands ({first}){then}; {done.Count} of {planned} tests completed. No reply that could belong to another command is counted as an acceptance.");
            }

            // 9. Deadline.
            if (f.DeadlineReached)
            {
                if (f.SlowestReply >= f.SlowReplyThreshold)
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.Tarpit, $"Tarpit: replies took up to {Secs(f.SlowestReply)}; the deadline ({Secs(f.Timeout)}) passed after {done.Count} of {planned} tests.");
                return D(RelayVerdict.Inconclusive, RelayReasonCode.Deadline, $"The deadline ({Secs(f.Timeout)}) passed after {done.Count} of {planned} tests.");
            }

            // 10. Hostile or broken replies.
            if (f.Failure is SmtpFailureKind k && (k == SmtpFailureKind.ProtocolViolation || k == SmtpFailureKind.NotSmtp))
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ProtocolViolation, $"The server broke the protocol at {f.FailureStage ?? "?"} ({f.FailureMessage}); abandoned after {done.Count} of {planned} tests.");

            // 11. Tests left undone.
            if (incomplete)
            {
                if (f.Failure == SmtpFailureKind.Timeout && f.SlowestReply >= f.SlowReplyThreshold)
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.Tarpit, $"Tarpit: replies took up to {Secs(f.SlowestReply)} and then none came at {f.FailureStage ?? "?"}; {done.Count} of {planned} tests completed.");
                if (f.Failure == SmtpFailureKind.Timeout)
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.NoReply, $"The server stopped replying at {f.FailureStage ?? "?"} ({f.FailureMessage}); {done.Count} of {planned} tests completed.");
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ConnectionLost, $"The connection was lost at {f.FailureStage ?? "?"} ({f.FailureMessage ?? "no reason given"}); {done.Count} of {planned} tests completed.");
            }

            if (done.Count == 0)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.Unexplained, "No relay test completed.");

            // 12. Temporary refusals: greylisting, rate limits, resource shortage.
            var temp = done.Where(o => o.ReplyCode >= 400 && o.ReplyCode < 500).ToList();
            if (temp.Count > 0)
            {
                bool greylisted = temp.Any(o => LooksGreylisted(o.Text));
                var grey = greylisted ? "greylisting" : "temporary refusals";
                var retry = f.GreylistRetried ? " (also after the greylist retry)" : " (use -GreylistRetrySec to retry later in the run)";
                return D(RelayVerdict.Inconclusive, greylisted ? RelayReasonCode.Greylisted : RelayReasonCode.TemporaryFailure, $"{temp.Count} of {planned} tests got 4xx replies ({grey}{retry}), e.g. {ReplyOf(temp[0])}.");
            }

            // 13. Refused because the probe recipient's domain accepts no mail (RFC 7505 null MX:
            // 556 / 5.1.10, as the RFC 2606 example domains do): that says nothing about relaying.
            var nullMx = done.FirstOrDefault(o => o.ReplyCode == 556 || o.EnhancedCode == "5.1.10");
            if (nullMx != null)
                return D(RelayVerdict.Inconclusive, RelayReasonCode.ProbeDomainRefused, $"The server refused the probe recipient's domain as accepting no mail ({ReplyOf(nullMx)}), which says nothing about relaying; use -ProbeRecipient with an outside domain that accepts mail, such as one you control.");

            // 14. Everything refused for good. Closed needs a relay policy that was seen: some test reached
            // RCPT, and the refusals there are about the recipient. Refused before any RCPT (every
            // MAIL FROM, the null sender too), or every RCPT refused with a reply that names the client
            // (a blocklist, an access rule), the server has only shut this client out.
            var refused = done.Where(o => o.ReplyCode >= 500).ToList();
            if (refused.Count == done.Count)
            {
                var reached = refused.Where(o => o.Stage != "MAIL").ToList();
                if (reached.Count == 0)
                {
                    var nullSender = done.Any(o => o.MailFrom == "<>") ? ", the null sender too" : " (the null sender was not among the tests)";
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused,
                        $"The server refused every MAIL FROM{nullSender}, e.g. {ReplyOf(refused[0])}; no relay test reached RCPT. {NoPolicySeen}");
                }
                if (reached.All(o => ClientRefusal.IsAboutClient(o.Text, f.ClientAddress)))
                    return D(RelayVerdict.Inconclusive, RelayReasonCode.ClientRefused,
                        $"Every RCPT was refused with a reply about this client, not the recipient, e.g. {ReplyOf(reached[0])}. {NoPolicySeen}");
                return D(RelayVerdict.Closed, RelayReasonCode.AllRefused, $"All {planned} relay tests were refused, e.g. {ReplyOf(refused[0])}.");
            }

            return D(RelayVerdict.Inconclusive, RelayReasonCode.Unexplained, "Some tests ended with unexpected replies.");
        }

        /// <summary>What a refusal of the client does not show, and what to do about it.</summary>
        public const string NoPolicySeen = "No relay policy was seen: the server shut this client out, which is not a fix; test again from another address.";

        public static bool IsAuthOrTlsRequired(RelayTestOutcome o)
        {
            if (o.ReplyCode == 530) return true;
            if (o.EnhancedCode == "5.7.0" || o.EnhancedCode == "5.7.11" || o.EnhancedCode == "5.7.8")
            {
                var t = o.Text ?? string.Empty;
                return t.IndexOf("auth", StringComparison.OrdinalIgnoreCase) >= 0 || t.IndexOf("STARTTLS", StringComparison.OrdinalIgnoreCase) >= 0 || t.IndexOf("TLS", StringComparison.Ordinal) >= 0;
            }
            return false;
        }

        public static bool LooksGreylisted(string? text)
            => text != null && (text.IndexOf("grey", StringComparison.OrdinalIgnoreCase) >= 0 || text.IndexOf("gray", StringComparison.OrdinalIgnoreCase) >= 0 || text.IndexOf("try again later", StringComparison.OrdinalIgnoreCase) >= 0);

        private static string ReplyOf(RelayTestOutcome o)
            => o.ReplyCode.ToString(CultureInfo.InvariantCulture) + (o.EnhancedCode is null ? "" : " " + o.EnhancedCode) + (string.IsNullOrEmpty(o.Text) ? "" : " " + o.Text);

        private static string NameList(IReadOnlyList<string> names)
            => names.Count <= 4 ? string.Join(", ", names) : string.Join(", ", names.Take(3)) + $" and {names.Count - 3} more";

        private static string Secs(TimeSpan t) => t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";
    }
}
