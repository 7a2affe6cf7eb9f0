using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using MimeKit;
using Omr.Engine.Probing;

namespace Omr.Engine.Evidence
{
    /// <summary>How a message was tied to a probe.</summary>
    public enum ProbeMatchKind
    {
        None,
        /// <summary>A top-level X-Omr-Probe header carries the probe id.</summary>
        Header,
        /// <summary>The Message-ID is &lt;ProbeId@omr.invalid&gt;.</summary>
        MessageId,
        /// <summary>The Subject carries "[Omr relay test ProbeId]" (and the message is not a bounce).</summary>
        Subject,
    }

    /// <summary>A message matched to a probe id.</summary>
    public sealed class ProbeMatch
    {
        public ProbeMatch(string probeId, ProbeMatchKind kind) { ProbeId = probeId; Kind = kind; }
        public string ProbeId { get; }
        public ProbeMatchKind Kind { get; }
    }

    /// <summary>
    /// Ties verification messages to probes using only the message's top-level headers: a bounce
    /// that quotes our message in its body (or attaches it) never matches.
    /// </summary>
    public static class ProbeMatcher
    {
        private static readonly Regex SubjectToken = new Regex(@"\[Omr relay test (?<id>[A-Za-z0-9._-]{1,100})\]", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly Regex BounceSubject = new Regex(
            @"^\s*(undeliverable|undelivered|undeliverable mail|returned mail|mail delivery (failed|system)|delivery (status notification|failure|failed|has failed|notification|report)|failure notice|non[- ]delivery|nondeliverable|could not send message|warning: could not send|automatic reply|auto(matic)?[- ]?reply|out of office|abwesenheit|unzustellbar|non remis|no entregado)",
            RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

        /// <summary>
        /// The probe (one of <paramref name="probeIds"/>) this message is the verification message of,
        /// or null. Header and Message-ID matches win over a Subject match.
        /// </summary>
        public static ProbeMatch? Match(HeaderList headers, IReadOnlyCollection<string> probeIds)
        {
            if (headers is null) throw new ArgumentNullException(nameof(headers));
            if (probeIds is null || probeIds.Count == 0) return null;
            var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in probeIds)
                if (!string.IsNullOrEmpty(p)) ids[p] = p;

            foreach (var h in headers)
            {
                if (!h.Field.Equals(VerificationMessage.ProbeHeader, StringComparison.OrdinalIgnoreCase)) continue;
                var value = (h.Value ?? string.Empty).Trim();
                var id = Find(ids, value);
                if (id != null) return new ProbeMatch(id, ProbeMatchKind.Header);
            }

            var messageId = headers[HeaderId.MessageId];
            if (messageId is { Length: > 0 })
            {
                var mid = messageId.Trim().Trim('<', '>').Trim();
                var suffix = "@" + VerificationMessage.MessageIdDomain;
                if (mid.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                {
                    var id = Find(ids, mid.Substring(0, mid.Length - suffix.Length));
                    if (id != null) return new ProbeMatch(id, ProbeMatchKind.MessageId);
                }
            }

            var subject = headers[HeaderId.Subject];
            if (subject is { Length: > 0 } && !LooksLikeReport(headers, subject))
            {
                foreach (Match m in SubjectToken.Matches(DecodeSubject(subject)))
                {
                    var id = Find(ids, m.Groups["id"].Value);
                    if (id != null) return new ProbeMatch(id, ProbeMatchKind.Subject);
                }
            }
            return null;
        }

        /// <summary>True for bounces, delivery reports and auto-replies, which may quote our Subject.</summary>
        public static bool LooksLikeReport(HeaderList headers, string? subject)
        {
            var contentType = headers[HeaderId.ContentType] ?? string.Empty;
            if (contentType.IndexOf("multipart/report", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            var auto = headers["Auto-Submitted"];
            if (auto != null && auto.IndexOf("auto-replied", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            var from = headers[HeaderId.From] ?? string.Empty;
            if (from.IndexOf("mailer-daemon", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            if (headers["X-Failed-Recipients"] != null) return true;
            return subject != null && BounceSubject.IsMatch(DecodeSubject(subject));
        }

        private static string DecodeSubject(string subject)
        {
            // HeaderList's indexer already decodes encoded-words; keep this a hook for bounded input.
            return subject.Length > 2000 ? subject.Substring(0, 2000) : subject;
        }

        private static string? Find(Dictionary<string, string> ids, string candidate)
        {
            if (candidate.Length == 0 || candidate.Length > 200) return null;
            return ids.TryGetValue(candidate, out var id) ? id : null;
        }
    }
}
