"""zoo-example's tests: the conformance kit checks the contract."""

from zoo_example import NearestCentroid

from zoo.testing import check_component, check_plugin, parametrize_with_checks


@parametrize_with_checks([NearestCentroid])
def test_contract(component, check):  # one test per check, e.g. example.nearest_centroid-clone
    check(component)


def test_with_more_shrinkage_it_still_learns():  # floors: beat chance on held-out rows
    check_component(NearestCentroid, params={"shrink": 0.5}, floors={"roc_auc": 0.6})


def test_the_installed_plugin():  # needs `pip install` of the plugin: zoo loads it as users will
    check_plugin("example", components=[NearestCentroid])
