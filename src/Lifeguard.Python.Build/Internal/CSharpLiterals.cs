using System.Globalization;
using System.Text;

namespace Lifeguard.Python.Build.Internal;

/// <summary>Python default values as C# constants, where the C# type can hold them. Stateless.</summary>
internal static class CSharpLiterals
{
    /// <summary>
    /// The C# code of a literal default for a parameter or member of <paramref name="type"/>: <c>5</c>,
    /// <c>"text"</c>, <c>true</c>, <c>null</c> (None; the type must then be nullable); <see langword="null"/> when
    /// the default is no literal, or one the type cannot hold (an int too large for a long, a float for an int).
    /// </summary>
    public static string? Default(PyDefault? value, CsType type)
    {
        if (value is not { IsLiteral: true })
        {
            return null;
        }

        return (value.LiteralType, type.Kind) switch
        {
            ("none", _) => "null",
            ("bool", CsKind.Bool) => value.Value == "True" ? "true" : "false",
            ("int", CsKind.Long or CsKind.Double) when PyReading.TryParseInt(value.Value, out var i) => i.ToString(CultureInfo.InvariantCulture),
            ("float", CsKind.Double) when double.TryParse(value.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                => d.ToString("R", CultureInfo.InvariantCulture) is var r && (r.Contains('.', StringComparison.Ordinal) || r.Contains('E', StringComparison.Ordinal)) ? r : r + ".0",
            ("str", CsKind.String) when value.Value is { } s => String(s),
            _ => null,
        };
    }

    /// <summary>A C# string literal: quotes, backslashes, control characters, line separators and lone surrogates escaped.</summary>
    public static string String(string value)
    {
        var literal = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    literal.Append("\\\"");
                    break;
                case '\\':
                    literal.Append(@"\\");
                    break;
                case '\n':
                    literal.Append(@"\n");
                    break;
                case '\r':
                    literal.Append(@"\r");
                    break;
                case '\t':
                    literal.Append(@"\t");
                    break;
                default:
                    if (c < ' ' || c == '\u007f' || c is '\u0085' or '\u2028' or '\u2029' || char.IsSurrogate(c))
                    {
                        literal.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        literal.Append(c);
                    }

                    break;
            }
        }

        return literal.Append('"').ToString();
    }
}
