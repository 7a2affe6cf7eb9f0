using System;
using System.Collections.Generic;
using System.Text;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// A bounded, thread-safe (lock-free) transcript. Text is stored with control characters escaped so that
    /// nothing a server sends can forge transcript lines or headers later on.
    /// </summary>
    public sealed class Transcript
    {
        public const int MaxEntries = 4000;
        public const int MaxEntryLength = 1000;

        /// <summary>Entries in order, each with the probe unit (MAIL/RCPT pair) it belongs to, or -1 for the session's own lines.</summary>
        private readonly System.Collections.Concurrent.ConcurrentQueue<(TranscriptEntry Entry, int Tag)> _entries = new System.Collections.Concurrent.ConcurrentQueue<(TranscriptEntry, int)>();
        private readonly Func<DateTimeOffset>? _clock;
        private int _count;

        public Transcript(Func<DateTimeOffset>? clock = null)
        {
            _clock = clock;
        }

        public void Client(string line) => Add("C", line);
        public void Server(string line) => Add("S", line);
        public void Note(string line) => Add("*", line);

        public void Add(string direction, string text) => Add(direction, text, -1);

        /// <summary>Adds an entry that belongs to one probe unit (tag), or to the session (-1). Lock-free.</summary>
        public void Add(string direction, string text, int tag)
        {
            var n = System.Threading.Interlocked.Increment(ref _count);
            var now = _clock is null ? DateTimeOffset.UtcNow : _clock();
            if (n > MaxEntries)
            {
                if (n == MaxEntries + 1) _entries.Enqueue((new TranscriptEntry(now, "*", $"transcript truncated after {MaxEntries} entries"), -1));
                return;
            }
            _entries.Enqueue((new TranscriptEntry(now, direction, Sanitize(text)), tag));
        }

        public TranscriptEntry[] ToArray()
        {
            var items = _entries.ToArray();
            var list = new TranscriptEntry[items.Length];
            for (int i = 0; i < items.Length; i++) list[i] = items[i].Entry;
            return list;
        }

        /// <summary>The session's own entries and those of the units <paramref name="include"/> accepts.</summary>
        public TranscriptEntry[] ToArray(Func<int, bool> include)
        {
            var items = _entries.ToArray();
            var list = new List<TranscriptEntry>(items.Length);
            foreach (var (entry, tag) in items)
                if (tag < 0 || include(tag)) list.Add(entry);
            return list.ToArray();
        }

        /// <summary>Escapes control characters (CR, LF, NUL, ESC, ...) and bounds the length.</summary>
        public static string Sanitize(string text)
        {
            return ServerText.Sanitize(text, MaxEntryLength);
        }
    }
}
