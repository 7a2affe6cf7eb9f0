using Microsoft.Data.Sqlite;

namespace Omr.Engine.Tests.State;

/// <summary>A state database file as an outsider sees it: unpooled, one statement at a time.</summary>
internal static class StateFile
{
    public static string Scalar(string path, string sql)
    {
        using var c = new SqliteConnection("Data Source=" + path + ";Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
    }

    /// <summary>Changes the file behind Omr's back (an older version's schema, a forged value).</summary>
    public static void Exec(string path, string sql)
    {
        using var c = new SqliteConnection("Data Source=" + path + ";Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
