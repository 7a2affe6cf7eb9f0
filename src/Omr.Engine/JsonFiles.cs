using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text.Json;

namespace Omr.Engine
{
    /// <summary>
    /// The one way the engine writes and reads its JSON files (evidence.json, the legacy notice state):
    /// System.Text.Json's <see cref="Utf8JsonWriter"/> (indented, "\n" line ends, a final newline) and
    /// <see cref="JsonDocument"/> (strict: no comments, no trailing commas, nothing after the value).
    /// </summary>
    internal static class JsonFiles
    {
        private static readonly JsonWriterOptions WriterOptions = new JsonWriterOptions { Indented = true, NewLine = "\n" };

        private static readonly JsonDocumentOptions ReaderOptions = new JsonDocumentOptions
        {
            MaxDepth = 64,
            AllowTrailingCommas = false,
            CommentHandling = JsonCommentHandling.Disallow,
        };

        /// <summary>One JSON document as UTF-8 bytes (no BOM), ending with a newline.</summary>
        public static byte[] Write(Action<Utf8JsonWriter> body)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, WriterOptions)) body(writer);
            stream.WriteByte((byte)'\n');
            return stream.ToArray();
        }

        /// <summary>One JSON value as compact text (no indentation, no newline): what a state database column holds.</summary>
        public static string WriteCompact(Action<Utf8JsonWriter> body)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream)) body(writer);
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }

        /// <summary>Parses a whole JSON document (a UTF-8 BOM is allowed); throws <see cref="JsonException"/> when malformed.</summary>
        public static JsonDocument Parse(ReadOnlyMemory<byte> utf8) => JsonDocument.Parse(utf8, ReaderOptions);

        public static void WriteNumber(this Utf8JsonWriter w, string name, long? value)
        {
            if (value is long v) w.WriteNumber(name, v); else w.WriteNull(name);
        }

        /// <summary>A duration or similar, to at most three decimals.</summary>
        public static void WriteDecimal(this Utf8JsonWriter w, string name, double value) => w.WriteNumber(name, Math.Round(value, 3));

        public static void WriteDate(this Utf8JsonWriter w, string name, DateTimeOffset? value)
            => w.WriteString(name, value?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));

        public static void WriteStrings(this Utf8JsonWriter w, string name, IEnumerable<string?> values, Func<string?, string?>? map = null)
        {
            w.WriteStartArray(name);
            foreach (var v in values) w.WriteStringValue(map is null ? v : map(v));
            w.WriteEndArray();
        }

        /// <summary>A string property, or null when absent or not a string.</summary>
        public static string? Str(this JsonElement o, string name)
            => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        /// <summary>A number property as a double, or null when absent or not a number.</summary>
        public static double? Num(this JsonElement o, string name)
            => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : (double?)null;

        /// <summary>A property of the given kind, or null.</summary>
        public static JsonElement? Get(this JsonElement o, string name, JsonValueKind kind)
            => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == kind ? v : (JsonElement?)null;
    }
}
