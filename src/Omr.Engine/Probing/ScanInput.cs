using System.Collections.Generic;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// One input of a scan (a domain, or a host with an optional domain), the answers it got, and the
    /// duplicates that wait for the same answers. Open counts what is still to come: its resolution,
    /// and every (address, port) context until that context's result is written.
    /// </summary>
    internal sealed class ScanInput
    {
        private int _open = 1;

        public ScanInput(string value, string? context, object? input, bool isHost, IReadOnlyList<string>? alsoTest = null, IReadOnlyList<int>? ports = null)
        {
            Value = value; Context = context; Input = input; IsHost = isHost; AlsoTest = alsoTest; Ports = ports;
            var v = Names.Domain(value);
            Key = (isHost ? "h:" + v + "|" + Names.Domain(context) : "d:" + v) + (ports is null ? string.Empty : "|" + string.Join(",", ports));
        }

        public string Value { get; }
        /// <summary>For a host: the domain it serves, when known.</summary>
        public string? Context { get; }
        public object? Input { get; }
        public bool IsHost { get; }
        /// <summary>The ports of this input (a saved result's Port); null: the scan's ports.</summary>
        public IReadOnlyList<int>? Ports { get; }
        /// <summary>For a domain: addresses tested for it before, tested again when they are no longer among its MX addresses.</summary>
        public IReadOnlyList<string>? AlsoTest { get; }
        /// <summary>Inputs with the same key are the same question.</summary>
        public string Key { get; }
        public bool IsDone { get; set; }
        public List<ScanInput> Duplicates { get; } = new List<ScanInput>();
        /// <summary>What this input was answered with: results and errors, in order.</summary>
        public List<object> Answers { get; } = new List<object>();


        public void AddOpen() => Interlocked.Increment(ref _open);

        /// <summary>The resolution is over (its contexts, if any, were added before this).</summary>
        public void Resolved(RelayScanner scanner) => CloseOne(scanner);

        public void CloseOne(RelayScanner scanner)
        {
            if (Interlocked.Decrement(ref _open) == 0) scanner.Done(this);
        }

        /// <summary>Answers a duplicate input with this input's answers (its own copies, its own TargetObject).</summary>
        public void AnswerDuplicate(ScanInput dup, RelayScanner scanner)
        {
            object[] answers;
            lock (Answers) answers = Answers.ToArray();
            foreach (var a in answers)
            {
                if (a is RelayTestResult r)
                {
                    var copy = r.Copy();
                    copy.Target = dup.Value.Trim();
                    scanner.PublishRaw(new ScanResultEvent(copy, dup.Input));
                }
                else if (a is EngineErrorEvent e)
                {
                    scanner.PublishRaw(new EngineErrorEvent(e.ErrorId, e.Category, e.Message, dup.Input ?? dup.Value, e.Exception));
                }
            }
        }
    }
}
