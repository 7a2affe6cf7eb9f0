namespace Omr.Engine.Probing
{
    /// <summary>One (domain, address, port) tested: its result, with the input that led to it.</summary>
    public sealed class ScanResultEvent : EngineEvent
    {
        public ScanResultEvent(RelayTestResult result, object? input) { Result = result; Input = input; }
        public RelayTestResult Result { get; }
        public object? Input { get; }
    }

    /// <summary>
    /// An Open result waiting for the caller's decision (ShouldProcess) to send the one verification
    /// message. The caller must answer with <see cref="RelayScanner.Verify"/> or <see cref="RelayScanner.SkipVerification"/>.
    /// </summary>
    public sealed class ScanVerifyRequestEvent : EngineEvent
    {
        internal ScanVerifyRequestEvent(RelayTestResult result, object? input, SmtpProbeSession session, ProbeTargetContext context, ExpandedRelayTest test, ScanInput entry)
        {
            Result = result; Input = input; Session = session; Context = context; Test = test; Entry = entry;
        }

        public RelayTestResult Result { get; }
        public object? Input { get; }
        /// <summary>The test the message would be sent through, addressed to the operator's mailbox.</summary>
        public ExpandedRelayTest Test { get; }
        internal SmtpProbeSession Session { get; }
        internal ProbeTargetContext Context { get; }
        internal ScanInput Entry { get; }
    }

    /// <summary>How far the scan is: addresses done of those known, and what it is on.</summary>
    public sealed class ScanProgressEvent : EngineEvent
    {
        public ScanProgressEvent(int completed, int total, string current) { Completed = completed; Total = total; Current = current; }
        public int Completed { get; }
        public int Total { get; }
        public string Current { get; }
    }
}
