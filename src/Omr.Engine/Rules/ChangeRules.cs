using System;

namespace Omr.Engine.Rules
{
    /// <summary>The last recorded result for one (domain, address, port): what the change rules compare with.</summary>
    public sealed class PriorResult
    {
        public RelayVerdict Verdict { get; set; }
        public RelayChange? Change { get; set; }
        /// <summary>The OpenSince recorded on that result (the open case's start), if any.</summary>
        public DateTimeOffset? OpenSince { get; set; }
        public DateTimeOffset Time { get; set; }
        public string[] RelayedBy { get; set; } = Array.Empty<string>();
        /// <summary>The host name recorded with it.</summary>
        public string? ComputerName { get; set; }

        /// <summary>True while the case is open: found open, and neither fixed nor hidden since.</summary>
        public bool CaseOpen => OpenSince != null && Change != RelayChange.Fixed && Change != RelayChange.Hidden;

        /// <summary>
        /// "Was open" for the hidden-server remedy: the case is open, or the address was hidden last time (so it is
        /// still tested directly, and a result that shows it hidden again stays Hidden). The one definition.
        /// </summary>
        public bool WasOpen => CaseOpen || Verdict == RelayVerdict.Hidden;
    }

    /// <summary>The change of one result and the OpenSince it carries.</summary>
    public readonly struct ChangeDecision
    {
        public ChangeDecision(RelayChange change, DateTimeOffset? openSince) { Change = change; OpenSince = openSince; }

        public RelayChange Change { get; }
        /// <summary>The open case's start: set on Open results and on results that close or leave an open case (Fixed, Hidden, Unconfirmed, NoLongerReachable).</summary>
        public DateTimeOffset? OpenSince { get; }
    }

    /// <summary>
    /// The change rules: one small pure function from the last recorded result (or none) and this
    /// run's verdict to the result's Change and OpenSince. An open case is closed only by a Closed
    /// (Fixed) or Hidden result; Inconclusive, Unreachable and Excluded (not tested) leave it open.
    /// </summary>
    public static class ChangeRules
    {
        public static ChangeDecision Decide(PriorResult? prior, RelayVerdict current, DateTimeOffset now)
        {
            if (prior is null)
                return new ChangeDecision(RelayChange.New, current == RelayVerdict.Open ? now : (DateTimeOffset?)null);
            var open = prior.CaseOpen;
            switch (current)
            {
                case RelayVerdict.Open:
                    return open ? new ChangeDecision(RelayChange.StillOpen, prior.OpenSince) : new ChangeDecision(RelayChange.NewlyOpen, now);
                case RelayVerdict.Closed:
                    return open ? new ChangeDecision(RelayChange.Fixed, prior.OpenSince) : new ChangeDecision(RelayChange.Unchanged, null);
                case RelayVerdict.Hidden:
                    return open ? new ChangeDecision(RelayChange.Hidden, prior.OpenSince) : new ChangeDecision(RelayChange.Unchanged, null);
                case RelayVerdict.Unreachable:
                    return open ? new ChangeDecision(RelayChange.NoLongerReachable, prior.OpenSince) : new ChangeDecision(RelayChange.Unchanged, null);
                case RelayVerdict.Inconclusive:
                // Excluded: not tested by the operator's choice. Nothing was seen, so an open case stays open (never
                // Fixed) and is not confirmed, as when the test could not decide.
                case RelayVerdict.Excluded:
                    return open ? new ChangeDecision(RelayChange.Unconfirmed, prior.OpenSince) : new ChangeDecision(RelayChange.Unchanged, null);
                default:
                    // NoMail: the domain accepts no mail; an open case of an address is not decided by it.
                    return open ? new ChangeDecision(RelayChange.Unconfirmed, prior.OpenSince) : new ChangeDecision(RelayChange.Unchanged, null);
            }
        }

        /// <summary>True for the changes that close a case (a follow-up with -Resolved applies).</summary>
        public static bool Remediated(RelayChange? change) => change == RelayChange.Fixed || change == RelayChange.Hidden;
    }
}
