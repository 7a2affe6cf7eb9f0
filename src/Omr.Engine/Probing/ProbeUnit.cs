using System.Collections.Generic;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One MAIL FROM / RCPT TO pair sent to one address. Every (domain, host) context that leads to
    /// the address and expands a relay test to the same pair shares the unit, so it runs once.
    /// </summary>
    internal sealed class ProbeUnit
    {
        public ProbeUnit(int id, ExpandedRelayTest test)
        {
            Id = id; Test = test;
        }

        /// <summary>Index in the session's unit list; the transcript tags its lines with it.</summary>
        public int Id { get; }
        public ExpandedRelayTest Test { get; }
        public string Name => Test.Name;
        public string MailFrom => Test.MailFrom;
        public string RcptTo => Test.RcptTo;
        public RelayTestOutcome? Outcome { get; set; }
    }

    /// <summary>One (domain, host) that leads to the session's address, and what it was told.</summary>
    internal sealed class ProbeTargetContext
    {
        /// <summary>Transcript tags of a context's own lines (its verification) start here; units use their index.</summary>
        public const int TagBase = 1 << 20;

        public ProbeTargetContext(ProbeAddress target, int index)
        {
            Target = target; Tag = TagBase + index;
        }

        /// <summary>The transcript tag of this context's own lines (the verification session).</summary>
        public int Tag { get; }

        public ProbeAddress Target { get; }
        /// <summary>Per relay test (catalogue order) the unit that runs it; null until the greeting is known.</summary>
        public IReadOnlyList<ProbeUnit>? Units { get; set; }
        public ProbeContext? Context { get; set; }

        public RelayProof Proof { get; set; }
        public string? VerifyAddress { get; set; }
        public string? VerifiedWith { get; set; }
        public string? VerificationMessageId { get; set; }
        public string? VerificationReply { get; set; }
        public string? VerificationNote { get; set; }
    }
}
