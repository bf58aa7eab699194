using System.Globalization;

namespace Lifeguard.Python;

/// <summary>Checks of Python names made on the host, before anything is sent. Stateless and thread-safe.</summary>
internal static class PythonNames
{
    /// <summary>
    /// Whether <paramref name="name"/> is a Python identifier: a letter or underscore, then letters, digits, marks and
    /// underscores (the Unicode categories of the language reference's identifier rules).
    /// </summary>
    public static bool IsIdentifier(string? name)
    {
        if (string.IsNullOrEmpty(name) || !IsStart(name[0]))
        {
            return false;
        }

        for (int i = 1; i < name.Length; i++)
        {
            if (!IsStart(name[i]) && !IsContinue(name[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsStart(char c) => c == '_' || CharUnicodeInfo.GetUnicodeCategory(c) is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
        or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber;

    private static bool IsContinue(char c) => CharUnicodeInfo.GetUnicodeCategory(c) is
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.ConnectorPunctuation;
}
