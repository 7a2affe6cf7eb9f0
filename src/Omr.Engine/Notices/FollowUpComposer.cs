using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using MimeKit;
using Omr.Engine.State;

namespace Omr.Engine.Notices
{
    /// <summary>
    /// The short follow-ups of a notice: a reminder (-EscalateAfter, "[Reminder]" in the subject) for
    /// a relay still open, and a resolved note (-Resolved) for one found fixed or hidden. Plain text,
    /// a reply to the first notice (In-Reply-To, References), auto-generated (RFC 3834).
    /// </summary>
    public static class FollowUpComposer
    {
        private static string When(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

        public static string HostLabel(FollowUpCandidate c)
            => $"{NoticeText.OneLine(c.Result.ComputerName ?? c.Result.Address ?? "?", 255)} [{NoticeText.OneLine(c.Result.Address ?? "?", 64)}]:{c.Result.Port.ToString(CultureInfo.InvariantCulture)}";

        public static string Subject(FollowUpCandidate c)
        {
            var domain = NoticeText.OneLine(c.Result.Domain ?? c.Result.Address ?? "?", 255);
            if (c.Kind == NoticeKind.Reminder)
            {
                var n = c.RemindersSent + 1;
                var what = c.Result.Verdict == RelayVerdict.Open ? "Open mail relay still open" : "Open mail relay not confirmed fixed";
                return NoticeText.OneLine($"[Reminder{(n > 1 ? " " + n.ToString(CultureInfo.InvariantCulture) : string.Empty)}] {what} at {domain}: {HostLabel(c)}", 250);
            }
            return NoticeText.OneLine(c.Result.Verdict == RelayVerdict.Hidden
                ? $"Resolved: the open mail relay at {domain} is hidden ({HostLabel(c)})"
                : $"Resolved: the open mail relay at {domain} is fixed ({HostLabel(c)})", 250);
        }

        public static string Body(FollowUpCandidate c, string? testedFrom)
        {
            var r = c.Result;
            var host = HostLabel(c);
            var domain = NoticeText.OneLine(r.Domain ?? r.Address ?? "?", 255);
            var sb = new StringBuilder();
            sb.Append("Hello,\n\n");
            sb.Append("On ").Append(When(c.Notice.Time)).Append(" we told you that the mail server ").Append(host).Append(" of ").Append(domain)
              .Append(" is an open relay").Append(c.Notice.MessageId is null ? string.Empty : " (our notice " + NoticeText.OneLine(c.Notice.MessageId, 200) + ")").Append(".\n\n");
            var where = string.IsNullOrWhiteSpace(testedFrom) ? string.Empty : " from " + NoticeText.OneLine(testedFrom!, 255);
            if (c.Kind == NoticeKind.Reminder)
            {
                if (r.Verdict == RelayVerdict.Open)
                    sb.Append("It was still an open relay when we tested it again on ");
                else
                    sb.Append("We could not confirm that it was fixed when we tested it again on ");
                sb.Append(When(r.StartTime)).Append(where).Append(":\n  ").Append(NoticeText.OneLine(r.Reason, 1000)).Append('\n');
                if (r.ReasonCode == RelayReasonCode.ClientRefused)
                    sb.Append("  Refusing our test address does not close the relay: it stays open to everybody else. The case stays open until a test shows every relay attempt refused.\n");
                else if (r.Verdict != RelayVerdict.Open)
                    sb.Append("  The case stays open until a test shows every relay attempt refused.\n");
                if (r.RelayedBy.Length > 0) sb.Append("  Relay tests accepted: ").Append(NoticeText.OneLine(string.Join(", ", r.RelayedBy), 1000)).Append('\n');
                sb.Append("  Open since: ").Append(When(c.CaseOpenSince)).Append("\n\n");
                sb.Append("Please fix it: the first notice has the evidence and how to close the relay, with the exact configuration lines for its software. ");
                sb.Append("Until it is fixed, spammers can send mail through it in your name.\n\n");
                sb.Append("Re-test it yourself: Test-OpenRelay -ComputerName ").Append(NoticeText.OneLine(r.ComputerName ?? r.Address ?? "?", 255)).Append(" -Port ").Append(r.Port.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
            else
            {
                sb.Append("We tested it again on ").Append(When(r.StartTime)).Append(where).Append(", with the same relay tests")
                  .Append(r.RelayedBy.Length > 0 ? string.Empty : string.Empty).Append(":\n  ")
                  .Append(NoticeText.OneLine(r.Reason, 1000)).Append("\n\n");
                sb.Append(r.Verdict == RelayVerdict.Hidden
                    ? "The domain's MX now names only the provider's filtering hosts and the old server no longer answers from the Internet: it is hidden, which remedies the open relay.\n\n"
                    : "Every relay attempt was refused: the server is no longer an open relay.\n\n");
                sb.Append("Thank you. The case is closed; no further action is needed.\n");
            }
            sb.Append("\nThis message was generated automatically (case open since ").Append(When(c.CaseOpenSince)).Append(").\n");
            return sb.ToString();
        }

        public static ComposedNotice Compose(FollowUpCandidate c, IReadOnlyList<string> to, IReadOnlyList<string> cc, IReadOnlyList<string> bcc, NoticeOptions options)
        {
            if (c is null) throw new ArgumentNullException(nameof(c));
            if (to.Count == 0) throw new ArgumentException("A follow-up needs at least one recipient.", nameof(to));
            var now = options.Clock();
            var id = NoticeComposer.NewNoticeId(now);
                        var msg = new MimeMessage();
            var from = MailAddressRules.ParseMailbox(options.From, "-From");
            msg.From.Add(from);
            foreach (var a in to) msg.To.Add(MailAddressRules.ParseMailbox(a));
            foreach (var a in cc.Where(a => !to.Contains(a, StringComparer.OrdinalIgnoreCase)).Distinct(StringComparer.OrdinalIgnoreCase)) msg.Cc.Add(MailAddressRules.ParseMailbox(a));
            foreach (var a in bcc) msg.Bcc.Add(MailAddressRules.ParseMailbox(a));
            if (!string.IsNullOrWhiteSpace(options.ReplyTo)) msg.ReplyTo.Add(MailAddressRules.ParseMailbox(options.ReplyTo!));
            msg.Subject = Subject(c);
            msg.Date = now;
            msg.MessageId = NoticeComposer.MessageIdFor(c.Kind == NoticeKind.Reminder ? "reminder-" : "resolved-", id, from);
            var original = c.Notice.MessageId?.Trim().Trim('<', '>');
            if (!string.IsNullOrEmpty(original) && original!.IndexOf('@') > 0 && !original.Any(char.IsWhiteSpace))
            {
                msg.InReplyTo = original;
                msg.References.Add(original);
            }
            NoticeComposer.MarkAutomatic(msg);
            msg.Headers.Add("X-Omr-Notice", id);
            msg.Headers.Add("X-Omr-Follow-Up", c.Kind.ToString());
            msg.Body = new TextPart("plain") { Text = Body(c, options.TestedFrom) };
            var ev = new RelayEvidence
            {
                ProbeId = c.Result.ProbeId ?? string.Empty,
                ComputerName = c.Result.ComputerName,
                Address = c.Result.Address,
                Port = c.Result.Port,
                Domain = c.Result.Domain,
                Result = new RelayTestResult { Domain = c.Result.Domain, ComputerName = c.Result.ComputerName, Address = c.Result.Address, Port = c.Result.Port, ProbeId = c.Result.ProbeId ?? string.Empty, Verdict = c.Result.Verdict },
            };
            return new ComposedNotice(msg, id, c.Result.Domain ?? c.Result.Address ?? "?", new[] { ev });
        }
    }
}
