using Microsoft.Extensions.Options;

namespace Lifeguard.Hosting.Internal;

/// <summary>
/// Validates the named options of the configured pools with the options' own <see cref="PoolOptions.Validate()"/>,
/// whose message names the pool and every offending value. Other names pass through. Thread-safe.
/// </summary>
internal sealed class PoolOptionsValidator<TOptions>(PoolCatalog catalog) : IValidateOptions<TOptions>
    where TOptions : PoolOptions
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (name is null || !catalog.Contains(name))
        {
            return ValidateOptionsResult.Skip;
        }

        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
