using System;
using System.Collections.Generic;
using System.Text;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// A bounded, thread-safe transcript. Text is stored with control characters escaped so that
    /// nothing a server sends can forge transcript lines or headers later on.
    /// </summary>
    public sealed class Transcript
    {
        public const int MaxEntries = 4000;
        public const int MaxEntryLength = 1000;

        private readonly List<TranscriptEntry> _entries = new List<TranscriptEntry>();
        private readonly Func<DateTimeOffset> _clock;
        private bool _truncated;

        public Transcript(Func<DateTimeOffset>? clock = null)
        {
            _clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        public void Client(string line) => Add("C", line);
        public void Server(string line) => Add("S", line);
        public void Note(string line) => Add("*", line);

        public void Add(string direction, string text)
        {
            lock (_entries)
            {
                if (_entries.Count >= MaxEntries)
                {
                    if (!_truncated)
                    {
                        _truncated = true;
                        _entries.Add(new TranscriptEntry(_clock(), "*", $"transcript truncated after {MaxEntries} entries"));
                    }
                    return;
                }
                _entries.Add(new TranscriptEntry(_clock(), direction, Sanitize(text)));
            }
        }

        public TranscriptEntry[] ToArray()
        {
            lock (_entries) return _entries.ToArray();
        }

        /// <summary>Escapes control characters (CR, LF, NUL, ESC, ...) and bounds the length.</summary>
        public static string Sanitize(string text)
        {
            return ServerText.Sanitize(text, MaxEntryLength);
        }
    }
}
