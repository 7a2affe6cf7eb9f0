namespace Omr.Lab.Smtp;

/// <summary>One line read from the wire, without its line ending.</summary>
internal readonly record struct WireLine(byte[] Bytes, bool TooLong);

/// <summary>
/// Reads CRLF (or bare LF) terminated lines from a stream, keeping any pipelined surplus buffered.
/// Lines longer than the limit are consumed to their end and reported as TooLong.
/// </summary>
internal sealed class LineReader
{
    private Stream _stream;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start, _end;

    public LineReader(Stream stream) { _stream = stream; }

    /// <summary>Switch to another stream (after STARTTLS) and DISCARD anything buffered (RFC 3207 §4.2 / 5).</summary>
    public void Reset(Stream stream)
    {
        _stream = stream;
        _start = _end = 0;
    }

    public bool HasBufferedData => _end > _start;

    /// <returns>The line, or null at end of stream.</returns>
    public async Task<WireLine?> ReadLineAsync(int maxLength, CancellationToken ct)
    {
        var acc = new MemoryStream();
        bool tooLong = false;
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            int take = (lf < 0 ? _end : lf) - _start;
            if (!tooLong)
            {
                if (acc.Length + take > maxLength + 1) tooLong = true; // +1 for a CR
                else acc.Write(_buffer, _start, take);
            }
            if (lf >= 0)
            {
                _start = lf + 1;
                var bytes = acc.ToArray();
                if (bytes.Length > 0 && bytes[^1] == '\r') Array.Resize(ref bytes, bytes.Length - 1);
                if (bytes.Length > maxLength) tooLong = true;
                return new WireLine(tooLong ? Array.Empty<byte>() : bytes, tooLong);
            }
            _start = _end = 0;
            int n = await _stream.ReadAsync(_buffer.AsMemory(), ct).ConfigureAwait(false);
            if (n <= 0) return null;
            _end = n;
        }
    }
}
