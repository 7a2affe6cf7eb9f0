using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using static Omr.Commands.PSValue;

namespace Omr.Commands
{
    /// <summary>
    /// Turns what arrives on the pipeline into a <see cref="RelayEvidence"/>: a live object from
    /// Get-RelayEvidence, a deserialized one (Import-Clixml) or a JSON round-tripped PSCustomObject.
    /// The nested Result goes through <see cref="ResultConverter"/>; when it did not survive (ConvertTo-Json
    /// below depth 4 flattens it to a string), a minimal result is rebuilt from the evidence's own fields.
    /// </summary>
    public static class EvidenceConverter
    {
        /// <summary>Converts, or throws <see cref="InvalidCastException"/> saying why the object is not evidence.</summary>
        public static RelayEvidence Convert(object? input, out string? note)
        {
            note = null;
            if (input is null) throw new InvalidCastException("The input is null, not relay evidence from Get-RelayEvidence.");
            var baseObject = input is PSObject pso ? pso.BaseObject : input;
            if (baseObject is RelayEvidence live) return live;
            if (baseObject is RelayTestResult)
                throw new InvalidCastException("The input is a Test-OpenRelay result, not evidence: pipe it through Get-RelayEvidence first (Send-RelayNotice needs the proof).");

            var get = Getter(input);
            var probeId = Str(get("ProbeId"));
            var hasEvidenceShape = get("Delivered") != null || get("Proof") != null || get("BundlePath") != null || get("Files") != null;
            if (get("Verdict") != null && get("Result") is null)
                throw new InvalidCastException("The input is a Test-OpenRelay result, not evidence: pipe it through Get-RelayEvidence first (Send-RelayNotice needs the proof).");
            if (string.IsNullOrWhiteSpace(probeId) || !hasEvidenceShape)
                throw new InvalidCastException($"The input ({Describe(input)}) is not relay evidence from Get-RelayEvidence: it has no ProbeId and Proof.");

            var ev = new RelayEvidence
            {
                ProbeId = probeId!.Trim(),
                ComputerName = Str(get("ComputerName")),
                Address = Str(get("Address")),
                Port = Int(get("Port")) ?? 0,
                Domain = Str(get("Domain")),
                Delivered = Bool(get("Delivered")),
                ReceivedAt = Date(get("ReceivedAt")),
                MessageId = Str(get("MessageId")),
                Subject = Str(get("Subject")),
                MatchedBy = Str(get("MatchedBy")),
                MailSource = Str(get("MailSource")),
                RelaySeen = Bool(get("RelaySeen")),
                Files = Items(get("Files")).Select(Str).Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToArray(),
                BundlePath = Str(get("BundlePath")),
                Reason = Str(get("Reason")),
            };
            var proof = get("Proof");
            if (proof != null && TryEnum<RelayProof>(proof, out var p)) ev.Proof = p;
            else if (ev.Delivered) ev.Proof = RelayProof.Delivered;
            ev.Hops = Items(get("Hops")).Select(Hop).ToArray();

            var result = get("Result");
            var resultBase = result is PSObject rp ? rp.BaseObject : result;
            if (result != null && !(resultBase is string))
            {
                try
                {
                    ev.Result = ResultConverter.Convert(result);
                    RecoverFlattenedTests(ev.Result, Getter(result)("Tests"));
                }
                catch (InvalidCastException ex)
                {
                    note = $"{ev.ProbeId}: the nested Result could not be read ({ex.Message}); rebuilt from the evidence's own fields.";
                    ev.Result = Minimal(ev);
                }
            }
            else
            {
                note = $"{ev.ProbeId}: the evidence carries no Result object (ConvertTo-Json needs -Depth 6 to keep it); the notice lacks the relay test details.";
                ev.Result = Minimal(ev);
            }
            return ev;
        }

        private static readonly System.Text.RegularExpressions.Regex FlatOutcome = new System.Text.RegularExpressions.Regex(
            @"^(?<name>[^:\s]+): MAIL FROM:(?<from>\S*) RCPT TO:(?<to>.*?) -> (?<code>\S+)(?<acc> ACCEPTED)?$",
            System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        /// <summary>
        /// Export-Clixml's default depth (2) flattens the nested Result's Tests to their ToString()
        /// ("name: MAIL FROM:x RCPT TO:y -> 250 ACCEPTED"): read them back from that form.
        /// </summary>
        private static void RecoverFlattenedTests(RelayTestResult result, object? rawTests)
        {
            var items = Items(rawTests).ToList();
            if (items.Count == 0 || items.Count != result.Tests.Length || !items.All(i => (i is PSObject p ? p.BaseObject : i) is string)) return;
            var tests = new List<RelayTestOutcome>();
            foreach (var item in items)
            {
                var m = FlatOutcome.Match(Str(item) ?? string.Empty);
                if (!m.Success) return;
                var code = int.TryParse(m.Groups["code"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : 0;
                tests.Add(new RelayTestOutcome
                {
                    Name = m.Groups["name"].Value,
                    MailFrom = m.Groups["from"].Value,
                    RcptTo = m.Groups["to"].Value,
                    ReplyCode = code,
                    MailReplyCode = m.Groups["acc"].Success ? 250 : 0,
                    Accepted = m.Groups["acc"].Success,
                    Error = code == 0 ? m.Groups["code"].Value : null,
                    Stage = "RCPT",
                });
            }
            result.Tests = tests.ToArray();
        }

        private static RelayTestResult Minimal(RelayEvidence ev) => new RelayTestResult
        {
            ProbeId = ev.ProbeId,
            Target = ev.Domain ?? ev.ComputerName ?? ev.Address ?? string.Empty,
            Domain = ev.Domain,
            ComputerName = ev.ComputerName,
            Address = ev.Address,
            Port = ev.Port,
            Verdict = ev.Proof >= RelayProof.RecipientAccepted ? RelayVerdict.Open : RelayVerdict.Inconclusive,
            Proof = ev.Proof,
            VerificationMessageId = ev.MessageId,
        };

        private static ReceivedHop Hop(object item)
        {
            var unwrapped = item is PSObject p ? p.BaseObject : item;
            if (unwrapped is ReceivedHop live) return live;
            var get = Getter(item);
            return new ReceivedHop
            {
                From = Str(get("From")),
                Helo = Str(get("Helo")),
                By = Str(get("By")),
                Ip = Str(get("Ip")),
                ByIp = Str(get("ByIp")),
                With = Str(get("With")),
                Id = Str(get("Id")),
                For = Str(get("For")),
                Timestamp = Date(get("Timestamp")),
                Raw = Str(get("Raw")) ?? string.Empty,
            };
        }

        private static Func<string, object?> Getter(object input) => BagOf(input).Get;
    }
}
