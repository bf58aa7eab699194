using System.CommandLine;
using System.Globalization;

namespace Lifeguard.Cli;

/// <summary><c>lifeguard size</c>: Size and MaxOverflow by Little's Law, with the reasoning. Stateless.</summary>
internal static class SizeCommand
{
    public static Command Create(TextWriter output)
    {
        var rate = new Option<double>("--rate") { Description = "Average arrivals per second (λ).", Required = true };
        var serviceTime = new Option<TimeSpan>("--service-time")
        {
            Description = $"How long each arrival holds a worker (W): {Durations.Accepted}.",
            Required = true,
            CustomParser = LifeguardCommand.ParseDuration,
        };
        var peak = new Option<double?>("--peak") { Description = "Peak arrivals per second the overflow should absorb." };
        var headroom = new Option<double?>("--headroom") { Description = "A factor of at least 1 applied to Size (1.2 = 20% spare)." };
        var command = new Command(
            "size",
            "Size a pool by Little's Law (L = λ·W): Size = ⌈λ·W × headroom⌉, MaxOverflow = ⌈(peak − λ)·W⌉.\n\n"
                + "Examples:\n"
                + "  lifeguard size --rate 10 --service-time 1s --peak 15        # Size 10, MaxOverflow 5\n"
                + "  lifeguard size --rate 250 --service-time 40ms --headroom 1.25")
        {
            rate, serviceTime, peak, headroom,
        };
        command.SetAction(parse =>
        {
            SizingAdvice advice;
            try
            {
                advice = SizingAdvice.Compute(parse.GetValue(rate), parse.GetValue(serviceTime), parse.GetValue(peak), parse.GetValue(headroom) ?? 1.0);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new UsageException(e.Message.Split(" (Parameter", 2)[0]);
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Size {advice.Size}, MaxOverflow {advice.MaxOverflow}"));
            output.WriteLine(advice.Explain());
            return ExitCodes.Success;
        });
        return command;
    }
}
