"""Mode discriminator: the domain classifier learns the domains, the GRL reverses its gradient."""

import torch

from facegen.trainer.discriminator import DomainClassifier, domain_loss


def test_classifier_learns_the_domains_and_the_features_get_the_reversed_gradient():
    torch.manual_seed(0)
    clf = DomainClassifier(8, 16)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    source, target = torch.randn(16, 8, 8, 8) + 1.0, torch.randn(16, 8, 8, 8) - 1.0
    for _ in range(60):
        loss, acc = domain_loss(clf, source, target, coeff=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert acc > 0.95 and float(loss.detach()) < 0.2

    clf.eval()
    feats = source.clone().requires_grad_(True)
    plain = torch.nn.functional.binary_cross_entropy_with_logits(clf(feats), torch.ones(16))
    (g_plain,) = torch.autograd.grad(plain, feats)
    feats2 = source.clone().requires_grad_(True)
    reversed_loss, _ = domain_loss(clf, feats2, target, coeff=0.5)
    (g_rev,) = torch.autograd.grad(reversed_loss, feats2)
    # the source half of the mean BCE over 32 is plain / 2: its gradient, reversed and scaled by 0.5
    torch.testing.assert_close(g_rev, -0.5 * g_plain / 2, rtol=1e-4, atol=1e-7)
