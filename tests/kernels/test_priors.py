import math

import torch
from botorch.exceptions.errors import UnsupportedError
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from botorch.utils.testing import BotorchTestCase
from gpytorch.priors import GammaPrior

from ax_ext.kernels import (
    LENGTHSCALE_PRIOR_STRENGTHS,
    ScalarChoiceKernel,
    default_lengthscale_mode,
    lengthscale_prior,
)


class TestLengthscalePriors(BotorchTestCase):
    def test_default_is_botorchs_prior(self):
        for d in (1, 4, 20):
            ours = lengthscale_prior("default", d)
            theirs = get_covar_module_with_dim_scaled_prior(ard_num_dims=d).lengthscale_prior
            self.assertAllClose(ours.loc, theirs.loc)
            self.assertAllClose(ours.scale, theirs.scale)
            self.assertAlmostEqual(float(theirs.mode), default_lengthscale_mode(d), places=5)

    def test_named_strengths_share_the_mode_and_scale_the_pull(self):
        d = 6
        mode = default_lengthscale_mode(d)
        pulls = {}
        for name, sigma in LENGTHSCALE_PRIOR_STRENGTHS.items():
            prior = lengthscale_prior(name, d)
            self.assertAlmostEqual(float(prior.scale), sigma, places=5)
            self.assertAlmostEqual(float(prior.mode), mode, delta=1e-4 * mode)
            # -d log p / d log l at l = e * mode is exactly 1 / sigma^2
            log_l = torch.tensor(math.log(mode) + 1.0, dtype=torch.double, requires_grad=True)
            (-prior.log_prob(log_l.exp())).backward()
            pulls[name] = log_l.grad.item()
            self.assertAlmostEqual(pulls[name] * sigma**2, 1.0, places=4)
        self.assertGreater(pulls["tight"], pulls["default"])
        self.assertAlmostEqual(pulls["default"] / pulls["loose"], 4.0, places=3)
        self.assertAlmostEqual(pulls["default"] / pulls["looser"], 16.0, places=2)

    def test_custom_prior_and_none(self):
        prior = GammaPrior(3.0, 6.0)
        self.assertIs(lengthscale_prior(prior, 3), prior)
        self.assertIsNone(lengthscale_prior(None, 3))

    def test_scalar_and_choice_priors_differ(self):
        k = ScalarChoiceKernel(
            [0, 1, 2], [3, 4], scalar_lengthscale_prior="looser", choice_lengthscale_prior=None
        )
        names = {name for name, *_ in k.named_priors()}
        self.assertIn("factorized_scalar_lengthscale_prior", names)
        self.assertIn("joint_scalar_lengthscale_prior", names)
        self.assertNotIn("factorized_choice_lengthscale_prior", names)
        self.assertAlmostEqual(
            float(k.factorized_scalar_lengthscale_prior.scale), 4 * math.sqrt(3), places=5
        )
        # lengthscales start at the default mode of their part, whatever the strength
        self.assertAllClose(
            k.factorized_scalar_lengthscale,
            torch.full((1, 3), default_lengthscale_mode(3)),
        )
        self.assertAllClose(
            k.joint_choice_lengthscale, torch.full((1, 2), default_lengthscale_mode(2))
        )

    def test_errors(self):
        with self.assertRaisesRegex(UnsupportedError, "Unknown lengthscale prior strength 'x'"):
            lengthscale_prior("x", 2)
        with self.assertRaisesRegex(UnsupportedError, "num_dims >= 1"):
            default_lengthscale_mode(0)
        with self.assertRaisesRegex(UnsupportedError, "type int"):
            lengthscale_prior(3, 2)
