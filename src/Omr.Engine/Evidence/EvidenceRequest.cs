using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using MimeKit;
using Omr.Engine.Probing;
using Omr.Engine.Rules;

namespace Omr.Engine.Evidence
{
    /// <summary>One answer for one input result.</summary>
    public sealed class EvidenceResultEvent : EngineEvent
    {
        public EvidenceResultEvent(RelayEvidence evidence, object? input) { Evidence = evidence; Input = input; }
        public RelayEvidence Evidence { get; }
        /// <summary>The caller's token for the input (the cmdlet's original pipeline object).</summary>
        public object? Input { get; }
    }

    public sealed class EvidenceProgressEvent : EngineEvent
    {
        public EvidenceProgressEvent(int found, int expected, int secondsLeft, string status)
        {
            Found = found; Expected = expected; SecondsLeft = secondsLeft; Status = status;
        }
        public int Found { get; }
        public int Expected { get; }
        public int SecondsLeft { get; }
        public string Status { get; }
    }

    /// <summary>A delivered verification message still in the mail source (for -Remove / -MoveTo).</summary>
    public sealed class FoundMessage
    {
        public FoundMessage(MailItem item, RelayEvidence evidence) { Item = item; Evidence = evidence; }
        public MailItem Item { get; }
        public RelayEvidence Evidence { get; }
    }

    /// <summary>Where a mail source's log lines and warnings (a credential sent in clear text) go.</summary>
    public sealed class MailSourceMessages
    {
        public MailSourceMessages(Action<string> verbose, Action<string> warning) { Verbose = verbose; Warning = warning; }

        public Action<string> Verbose { get; }
        public Action<string> Warning { get; }
    }

    /// <summary>What to collect and how.</summary>
    public sealed class EvidenceRequest
    {
        /// <summary>The inputs with the caller's token for each (returned on the result event).</summary>
        public IList<(RelayTestResult Result, object? Input)> Inputs { get; } = new List<(RelayTestResult, object?)>();
        /// <summary>
        /// Creates the mail source (called only when some input needs searching), handing it where its log lines and
        /// warnings go: the collector's one event channel, as verbose and warning events.
        /// </summary>
        public Func<MailSourceMessages, IMailSource>? SourceFactory { get; set; }
        /// <summary>Bundles are written here; null: no bundles.</summary>
        public string? OutputPath { get; set; }
        /// <summary>How long to wait for messages; zero: look once.</summary>
        public TimeSpan Wait { get; set; }
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;
    }
}
