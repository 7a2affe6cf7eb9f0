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
        /// <summary>Per entry: the probe unit (MAIL/RCPT pair) it belongs to, or -1 for the session's own lines.</summary>
        private readonly List<int> _tags = new List<int>();
        private readonly Func<DateTimeOffset> _clock;
        private bool _truncated;

        public Transcript(Func<DateTimeOffset>? clock = null)
        {
            _clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        public void Client(string line) => Add("C", line);
        public void Server(string line) => Add("S", line);
        public void Note(string line) => Add("*", line);

        public void Add(string direction, string text) => Add(direction, text, -1);

        /// <summary>Adds an entry that belongs to one probe unit (tag), or to the session (-1).</summary>
        public void Add(string direction, string text, int tag)
        {
            lock (_entries)
            {
                if (_entries.Count >= MaxEntries)
                {
                    if (!_truncated)
                    {
                        _truncated = true;
                        _entries.Add(new TranscriptEntry(_clock(), "*", $"transcript truncated after {MaxEntries} entries"));
                        _tags.Add(-1);
                    }
                    return;
                }
                _entries.Add(new TranscriptEntry(_clock(), direction, Sanitize(text)));
                _tags.Add(tag);
            }
        }

        public TranscriptEntry[] ToArray()
        {
            lock (_entries) return _entries.ToArray();
        }

        /// <summary>The session's own entries and those of the units <paramref name="include"/> accepts.</summary>
        public TranscriptEntry[] ToArray(Func<int, bool> include)
        {
            lock (_entries)
            {
                var list = new List<TranscriptEntry>(_entries.Count);
                for (int i = 0; i < _entries.Count; i++)
                    if (_tags[i] < 0 || include(_tags[i])) list.Add(_entries[i]);
                return list.ToArray();
            }
        }

        /// <summary>Escapes control characters (CR, LF, NUL, ESC, ...) and bounds the length.</summary>
        public static string Sanitize(string text)
        {
            return ServerText.Sanitize(text, MaxEntryLength);
        }
    }
}
