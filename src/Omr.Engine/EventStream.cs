using System;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Omr.Engine.Evidence;
using Omr.Engine.Probing;

namespace Omr.Engine
{
    /// <summary>
    /// The engine's events as the pipeline thread reads them: the cmdlets drain this, never the
    /// channel behind it, so the cmdlet assembly needs no reference to System.Threading.Channels.
    /// </summary>
    public sealed class EventStream
    {
        private readonly ChannelReader<EngineEvent> _reader;

        private readonly Action<EngineEvent>? _onRead;

        internal EventStream(ChannelReader<EngineEvent> reader, Action<EngineEvent>? onRead = null) { _reader = reader; _onRead = onRead; }

        /// <summary>The next event already there, without waiting.</summary>
        public bool TryRead(out EngineEvent e)
        {
            if (_reader.TryRead(out var next)) { e = next; _onRead?.Invoke(next); return true; }
            e = null!;
            return false;
        }

        /// <summary>True once the engine wrote its last event (or failed) and all were read.</summary>
        public bool IsCompleted => _reader.Completion.IsCompleted;

        /// <summary>The engine's failure, once it completed with one.</summary>
        public AggregateException? Fault => _reader.Completion.IsFaulted ? _reader.Completion.Exception : null;

        /// <summary>Blocks until an event can be read (true) or the stream is complete (false); OperationCanceledException on <paramref name="cancel"/>.</summary>
        public bool WaitToRead(CancellationToken cancel)
        {
            return QuietWait.Result(_reader.WaitToReadAsync(cancel).AsTask());
        }
    }

    /// <summary>The event streams of the engine's long-running jobs.</summary>
    public static class EventStreams
    {
        public static EventStream Stream(this RelayScanner scanner)
        {
            if (scanner is null) throw new ArgumentNullException(nameof(scanner));
            scanner.CountConsumed();
            return new EventStream(scanner.Events, scanner.Consumed);
        }

        public static EventStream Stream(this EvidenceCollector collector) => new EventStream((collector ?? throw new ArgumentNullException(nameof(collector))).Events);
    }
}
