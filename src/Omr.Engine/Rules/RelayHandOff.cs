using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using Omr.Engine.Evidence;

namespace Omr.Engine.Rules
{
    /// <summary>What a verification message's Received chain shows about the tested server.</summary>
    public readonly struct HandOffDecision
    {
        public HandOffDecision(ReceivedHop? hop, string explanation) { Hop = hop; Explanation = explanation; }

        /// <summary>The hop written by the next server when the tested server handed the message on; null when the chain shows none.</summary>
        public ReceivedHop? Hop { get; }
        /// <summary>What the chain shows, in words.</summary>
        public string Explanation { get; }
        public bool Relayed => Hop != null;
    }

    /// <summary>
    /// "Delivered" means relayed: the Received chain must show the tested server handing the message on
    /// to another server. A message that the tested server delivered into the mailbox itself (its own
    /// hop is the last SMTP hop; LMTP and local hops are final delivery, not relaying) is no proof: the
    /// server is the mailbox's own destination. One small pure function over the parsed hops.
    /// </summary>
    public static class RelayHandOff
    {
        /// <summary>Protocols of final delivery into a mail store (RFC 2033 LMTP, local pipes and agents): never a hand-off.</summary>
        private static readonly string[] FinalDelivery = { "LMTP", "local", "pipe", "stdin", "dovecot", "sieve", "HTTP", "IMAP", "maildrop", "procmail" };

        /// <summary>
        /// The hop that shows the tested server at <paramref name="testedAddress"/> handing the message on.
        /// <paramref name="testedNames"/> are the names it goes by (the name it was tested as, the first word
        /// of its greeting); <paramref name="heloName"/>, the name the tester announced, marks the hop where
        /// the tested server took the message from the tester; without it the oldest hop is that one.
        /// </summary>
        public static HandOffDecision Decide(IReadOnlyList<ReceivedHop> hops, string? testedAddress, IEnumerable<string?>? testedNames, string? heloName)
        {
            var names = (testedNames ?? Enumerable.Empty<string?>()).Where(n => !string.IsNullOrWhiteSpace(n)).Select(n => n!).ToList();
            if (hops is null || hops.Count == 0)
                return new HandOffDecision(null, "the message carries no Received header, so nothing shows that the tested server handed it on");
            var tested = ReceivedChainParser.ParseIp(testedAddress);
            var testedIsLoopback = IsLoopback(tested);
            var entry = EntryIndex(hops, heloName);
            var first = hops[entry];

            // The tested server wrote no header of its own: the oldest hop is the next server's, which saw it connect.
            if (tested != null && Same(first.Ip, tested) && !Same(first.ByIp, tested) && !IsFinalDelivery(first) && !NamesTester(first, heloName)
                && !names.Any(n => Eq(first.By, n)))
                return new HandOffDecision(first, $"{Describe(first)}: the next server received it from the tested server {tested}");

            for (var i = entry - 1; i >= 0; i--)
            {
                var h = hops[i];
                if (IsFinalDelivery(h)) continue;                          // into the mail store: not another server
                if (SameHost(h, first, tested) || names.Any(n => Eq(h.By, n))) continue; // the tested server passing the message to itself (a content filter)
                if (!testedIsLoopback && (IsLoopback(ReceivedChainParser.ParseIp(h.Ip)) || IsLocalName(h.By))) continue; // inside one machine
                return new HandOffDecision(h, $"{Describe(h)}: after the tested server ({first.By ?? tested ?? "?"}) took the message, {h.By ?? h.ByIp ?? "another server"} received it by {h.With ?? "SMTP"}");
            }
            var by = first.By ?? first.ByIp ?? "the tested server";
            return new HandOffDecision(null, $"the Received chain ends at {by}, which took the message from the tester and delivered it into the mailbox itself ({hops.Count} hop{(hops.Count == 1 ? string.Empty : "s")}, no hop from it to another server): it is the mailbox's own destination, not a relay");
        }

        /// <summary>The hop written when the tested server took the message from the tester: the oldest that names the tester's HELO, else the oldest.</summary>
        private static int EntryIndex(IReadOnlyList<ReceivedHop> hops, string? heloName)
        {
            if (!string.IsNullOrEmpty(heloName))
            {
                for (var i = hops.Count - 1; i >= 0; i--)
                    if (NamesTester(hops[i], heloName)) return i;
            }
            return hops.Count - 1;
        }

        private static bool NamesTester(ReceivedHop h, string? heloName)
            => !string.IsNullOrEmpty(heloName) && (Eq(h.Helo, heloName) || Eq(h.From, heloName) || Eq(h.Helo, heloName!.Trim('[', ']')));

        private static bool SameHost(ReceivedHop h, ReceivedHop entry, string? tested)
        {
            if (tested != null && Same(h.ByIp, tested)) return true;
            return h.By != null && entry.By != null && Eq(h.By, entry.By);
        }

        private static bool IsFinalDelivery(ReceivedHop h)
        {
            var with = h.With;
            if (string.IsNullOrEmpty(with)) return false;
            foreach (var p in FinalDelivery)
                if (with!.StartsWith(p, StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }

        private static bool IsLocalName(string? name)
            => name != null && (Eq(name, "localhost") || name.StartsWith("localhost.", StringComparison.OrdinalIgnoreCase));

        private static bool IsLoopback(string? ip) => ip != null && IPAddress.TryParse(ip, out var a) && IPAddress.IsLoopback(a);

        private static bool Same(string? a, string b) => a != null && string.Equals(ReceivedChainParser.ParseIp(a), b, StringComparison.OrdinalIgnoreCase);

        private static bool Eq(string? a, string? b) => a != null && b != null && string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);

        private static string Describe(ReceivedHop h) => "\"" + h + "\"";

        /// <summary>The name the tester announced, from the transcript's EHLO or HELO line.</summary>
        public static string? HeloOf(IEnumerable<TranscriptEntry>? transcript)
        {
            foreach (var t in transcript ?? Enumerable.Empty<TranscriptEntry>())
            {
                if (t?.Direction != "C" || t.Text is null) continue;
                if (t.Text.StartsWith("EHLO ", StringComparison.OrdinalIgnoreCase) || t.Text.StartsWith("HELO ", StringComparison.OrdinalIgnoreCase))
                    return t.Text.Substring(5).Trim();
            }
            return null;
        }
    }
}
