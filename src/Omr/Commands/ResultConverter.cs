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
    /// Turns what arrives on the pipeline into a <see cref="RelayTestResult"/>: a live result, a
    /// deserialized one (Import-Clixml: Deserialized.Omr.RelayTestResult) or a JSON round-tripped
    /// PSCustomObject (enums as numbers or names, dates as strings or DateTime, TimeSpan as an object).
    /// </summary>
    public static class ResultConverter
    {
        /// <summary>Converts, or throws <see cref="InvalidCastException"/> with a message saying why the object is not a result.</summary>
        public static RelayTestResult Convert(object? input)
        {
            if (input is null) throw new InvalidCastException("The input is null, not a relay test result from Test-OpenRelay.");
            var baseObject = input is PSObject pso ? pso.BaseObject : input;
            if (baseObject is RelayTestResult live) return live;
            if (baseObject is RelayEvidence evidence) return evidence.Result;

            var bag = BagOf(input);
            // A (deserialized) RelayEvidence carries its result: verify it again.
            if (bag.Get("Verdict") is null && bag.Get("Result") is object inner && !(inner is string))
                return Convert(inner);
            var probeId = Str(bag.Get("ProbeId"));
            if (string.IsNullOrWhiteSpace(probeId))
                throw new InvalidCastException($"The input ({Describe(input)}) is not a relay test result from Test-OpenRelay: it has no ProbeId.");
            var verdictValue = bag.Get("Verdict");
            if (verdictValue is null || !TryEnum<RelayVerdict>(verdictValue, out var verdict))
                throw new InvalidCastException($"The input ({Describe(input)}) is not a relay test result from Test-OpenRelay: its Verdict '{Str(verdictValue)}' is missing or unknown.");

            var r = new RelayTestResult
            {
                ProbeId = probeId!.Trim(),
                Verdict = verdict,
                Target = Str(bag.Get("Target")) ?? string.Empty,
                Domain = Str(bag.Get("Domain")),
                ComputerName = Str(bag.Get("ComputerName")),
                Address = Str(bag.Get("Address")),
                Port = Int(bag.Get("Port")) ?? 0,
                Preference = Int(bag.Get("Preference")),
                Reason = Str(bag.Get("Reason")) ?? string.Empty,
                Banner = Str(bag.Get("Banner")),
                Tls = Str(bag.Get("Tls")) ?? "None",
                RelayedBy = Strings(bag.Get("RelayedBy")),
                Extensions = Strings(bag.Get("Extensions")),
                Connections = Int(bag.Get("Connections")) ?? 0,
                StartTime = Date(bag.Get("StartTime")) ?? default,
                Duration = Span(bag.Get("Duration")) ?? TimeSpan.Zero,
                VerifyAddress = Str(bag.Get("VerifyAddress")),
                VerifiedWith = Str(bag.Get("VerifiedWith")),
                VerificationMessageId = Str(bag.Get("VerificationMessageId")),
                VerificationReply = Str(bag.Get("VerificationReply")),
            };
            var proof = bag.Get("Proof");
            if (proof != null && TryEnum<RelayProof>(proof, out var p)) r.Proof = p;
            r.Tests = Items(bag.Get("Tests")).Select(Outcome).ToArray();
            r.Transcript = Items(bag.Get("Transcript")).Select(Entry).ToArray();
            // Saved with the software: as saved; saved by an older version: identified again from the replies.
            r.Software = Software(bag.Get("Software")) ?? Omr.Engine.Rules.SoftwareRules.Identify(r);
            return r;
        }

        private static RelaySoftware? Software(object? value)
        {
            if (value is null || value is string) return null;
            var b = BagOf(value);
            var product = Str(b.Get("Product"));
            if (string.IsNullOrWhiteSpace(product)) return null;
            var s = new RelaySoftware { Product = product!, Version = Str(b.Get("Version")), Evidence = Str(b.Get("Evidence")) ?? string.Empty };
            var confidence = b.Get("Confidence");
            if (confidence != null && TryEnum<SoftwareConfidence>(confidence, out var c)) s.Confidence = c;
            return s;
        }

        private static RelayTestOutcome Outcome(object item)
        {
            var b = BagOf(item);
            return new RelayTestOutcome
            {
                Name = Str(b.Get("Name")) ?? string.Empty,
                MailFrom = Str(b.Get("MailFrom")) ?? string.Empty,
                RcptTo = Str(b.Get("RcptTo")) ?? string.Empty,
                MailReplyCode = Int(b.Get("MailReplyCode")) ?? 0,
                ReplyCode = Int(b.Get("ReplyCode")) ?? 0,
                EnhancedCode = Str(b.Get("EnhancedCode")),
                Text = Str(b.Get("Text")),
                Stage = Str(b.Get("Stage")),
                Accepted = Bool(b.Get("Accepted")),
                Error = Str(b.Get("Error")),
                Proves = Str(b.Get("Proves")),
            };
        }

        private static TranscriptEntry Entry(object item)
        {
            var unwrapped = item is PSObject p ? p.BaseObject : item;
            if (unwrapped is TranscriptEntry live) return live;
            if (unwrapped is string line) return new TranscriptEntry(default, "*", line);
            var b = BagOf(item);
            return new TranscriptEntry(Date(b.Get("Time")) ?? default, Str(b.Get("Direction")) ?? "*", Str(b.Get("Text")) ?? string.Empty);
        }
    }
}
