using System;
using System.Collections.Generic;
using System.Threading;

namespace Omr.Engine.Probing
{
    /// <summary>
    /// A bounded, thread-safe (lock-free) transcript. Text is stored with control characters escaped so that
    /// nothing a server sends can forge transcript lines or headers later on. Entries are kept compact
    /// (a struct per line in a few growing chunks) and become <see cref="TranscriptEntry"/> objects only
    /// when a result's transcript is read.
    /// </summary>
    public sealed class Transcript
    {
        public const int MaxEntries = 4000;
        public const int MaxEntryLength = 1000;

        private struct Item
        {
            public long UtcTicks;
            /// <summary>Written last: null while the entry is being written.</summary>
            public string? Text;
            public int Tag;
            public short OffsetMinutes;
            /// <summary>Index into <see cref="Directions"/> (24 bytes an entry instead of 32 with the string).</summary>
            public byte Direction;
            /// <summary>Index into <see cref="Prefixes"/>: the verb of a command kept apart from its argument (0: none).</summary>
            public byte Prefix;
        }

        /// <summary>Command verbs kept apart from their arguments until the transcript is read.</summary>
        private static readonly string[] Prefixes = { string.Empty, SmtpCommand.MailFrom, SmtpCommand.RcptTo };

        /// <summary>Directions seen ("C", "S", "*" and any other a caller used), shared by every transcript; only appended to.</summary>
        private static string[] Directions = { "C", "S", "*" };
        private static readonly object DirectionsGate = new object();

        private static byte DirectionCode(string direction)
        {
            switch (direction)
            {
                case "C": return 0;
                case "S": return 1;
                case "*": return 2;
            }
            var known = Volatile.Read(ref Directions);
            for (int i = 3; i < known.Length; i++) if (string.Equals(known[i], direction, StringComparison.Ordinal)) return (byte)i;
            lock (DirectionsGate)
            {
                known = Directions;
                for (int i = 3; i < known.Length; i++) if (string.Equals(known[i], direction, StringComparison.Ordinal)) return (byte)i;
                if (known.Length > byte.MaxValue) return 2; // more than 250 made-up directions: shown as notes
                var more = new string[known.Length + 1];
                Array.Copy(known, more, known.Length);
                more[known.Length] = direction;
                Volatile.Write(ref Directions, more);
                return (byte)known.Length;
            }
        }

        /// <summary>
        /// Chunk sizes: the first holds a closed server's whole pipelined battery (about 85 lines), the
        /// second an open one's confirmation; then doubling, up to MaxEntries and the truncation note.
        /// </summary>
        private static readonly int[] ChunkSizes = { 96, 96, 192, 384, 768, 1536, 1536 };
        private readonly Item[]?[] _chunks = new Item[]?[7];
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
        public void Add(string direction, string text, int tag) => Append(direction, text, tag, 0);

        /// <summary>
        /// Takes the next slot for an entry; past the bound, one note says the transcript was cut (and the
        /// text is not even sanitized). A command's argument (<paramref name="prefix"/> set) is known safe.
        /// </summary>
        private void Append(string direction, string text, int tag, byte prefix)
        {
            var n = Interlocked.Increment(ref _count);
            if (n > MaxEntries)
            {
                if (n == MaxEntries + 1) Put(n - 1, "*", $"transcript truncated after {MaxEntries} entries", -1, 0);
                return;
            }
            Put(n - 1, direction, prefix == 0 ? Sanitize(text) : text, tag, prefix);
        }

        /// <summary>
        /// A command sent: its verb and argument, joined only when the transcript is read. The entry is
        /// the same as <c>Add("C", verb + argument, tag)</c>.
        /// </summary>
        internal void Command(string verb, string argument, int tag)
        {
            byte prefix = string.Equals(verb, SmtpCommand.MailFrom, StringComparison.Ordinal) ? (byte)1
                : string.Equals(verb, SmtpCommand.RcptTo, StringComparison.Ordinal) ? (byte)2 : (byte)0;
            // Only a short, safe argument is kept apart (a long or unsafe one is sanitized as one line, as before).
            if (prefix == 0 || verb.Length + argument.Length > MaxEntryLength || !ReferenceEquals(Sanitize(argument), argument))
            {
                Add("C", verb + argument, tag);
                return;
            }
            Append("C", argument, tag, prefix);
        }

        private void Put(int index, string direction, string text, int tag, byte prefix)
        {
            var chunk = Chunk(index, out var offset, create: true)!;
            ref var item = ref chunk[offset];
            if (_clock is null)
            {
                item.UtcTicks = DateTime.UtcNow.Ticks;
            }
            else
            {
                var now = _clock();
                item.UtcTicks = now.UtcTicks;
                item.OffsetMinutes = (short)now.Offset.TotalMinutes;
            }
            item.Tag = tag;
            item.Direction = DirectionCode(direction);
            item.Prefix = prefix;
            Volatile.Write(ref item.Text, text);
        }

        private Item[]? Chunk(int index, out int offset, bool create)
        {
            int k = 0, size = ChunkSizes[0];
            while (index >= size) { index -= size; size = ChunkSizes[++k]; }
            offset = index;
            var chunk = Volatile.Read(ref _chunks[k]);
            if (chunk is null && create)
            {
                var made = new Item[size];
                chunk = Interlocked.CompareExchange(ref _chunks[k], made, null) ?? made;
            }
            return chunk;
        }

        /// <summary>Entries written so far (a concurrent one still being written is left out).</summary>
        private int Written => Math.Min(Volatile.Read(ref _count), MaxEntries + 1);

        /// <summary>The first <paramref name="count"/> entries as objects: the session's own and those of the units <paramref name="include"/> accepts (all when null).</summary>
        private TranscriptEntry[] Entries(int count, Func<int, bool>? include)
        {
            var into = new List<TranscriptEntry>(count);
            var directions = Volatile.Read(ref Directions);
            for (int i = 0; i < count; i++)
            {
                var chunk = Chunk(i, out var offset, create: false);
                if (chunk is null) continue;
                var text = Volatile.Read(ref chunk[offset].Text);
                if (text is null) continue;
                var item = chunk[offset];
                if (include != null && item.Tag >= 0 && !include(item.Tag)) continue;
                if (item.Prefix != 0) text = Prefixes[item.Prefix] + text;
                into.Add(new TranscriptEntry(new DateTimeOffset(item.UtcTicks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(item.OffsetMinutes)), directions[item.Direction], text));
            }
            return into.ToArray();
        }

        public TranscriptEntry[] ToArray() => Entries(Written, null);

        /// <summary>The session's own entries and those of the units <paramref name="include"/> accepts.</summary>
        public TranscriptEntry[] ToArray(Func<int, bool> include) => Entries(Written, include);

        /// <summary>The entries written so far, as a result's transcript built only when it is read.</summary>
        internal TranscriptSource Snapshot() => new View(this, Written);

        private sealed class View : TranscriptSource
        {
            private readonly Transcript _transcript;
            private readonly int _count;
            public View(Transcript transcript, int count) { _transcript = transcript; _count = count; }

            internal override TranscriptEntry[] Materialize() => _transcript.Entries(_count, null);
        }

        /// <summary>Escapes control characters (CR, LF, NUL, ESC, ...) and bounds the length.</summary>
        public static string Sanitize(string text)
        {
            return ServerText.Sanitize(text, MaxEntryLength);
        }
    }
}
